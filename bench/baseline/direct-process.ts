// The baseline's processes: node:child_process directly, each the leader of its own group (as the
// harness spawns them, so a group signal costs the same), output drained and dropped.
import { spawn } from 'node:child_process'
import { onExit } from 'signal-exit'

const liveGroups = new Set<number>()
let removeHook: (() => void) | undefined

/** SIGKILLs every live baseline group if the bench itself dies (the harness has its own hook). */
function trackGroup(pgid: number): void {
  liveGroups.add(pgid)
  removeHook ??= onExit(
    () => {
      for (const group of liveGroups) {
        try {
          process.kill(-group, 'SIGKILL')
        } catch {
          // Already gone.
        }
      }
    },
    { alwaysLast: true },
  )
}

function untrackGroup(pgid: number): void {
  liveGroups.delete(pgid)
  if (liveGroups.size === 0 && removeHook !== undefined) {
    removeHook()
    removeHook = undefined
  }
}

export interface DirectSpec {
  readonly file: string
  readonly args: readonly string[]
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
}

export class DirectProcess {
  readonly pid: number
  /** Settles when the child was reaped ('exit'). */
  readonly exited: Promise<void>

  private constructor(pid: number, exited: Promise<void>) {
    this.pid = pid
    this.exited = exited
  }

  /** Spawns and waits for 'spawn', as the harness awaits its own launch. */
  static async start(spec: DirectSpec): Promise<DirectProcess> {
    const child = spawn(spec.file, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child.stdout?.resume()
    child.stderr?.resume()
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve)
      child.once('error', reject)
    })
    if (child.pid === undefined) {
      throw new Error(`could not start ${spec.file}`)
    }
    trackGroup(child.pid)
    return new DirectProcess(child.pid, exited)
  }

  /** Signals the process group; false when it is already gone. */
  signal(signal: NodeJS.Signals): boolean {
    try {
      process.kill(-this.pid, signal)
      return true
    } catch {
      return false
    }
  }

  /** SIGKILL the group and wait for the reap: the teardown after a measurement. */
  async kill(): Promise<void> {
    this.signal('SIGKILL')
    await this.exited
    untrackGroup(this.pid)
  }
}
