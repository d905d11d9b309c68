// Plain mode's process host: each process starts through the launcher (enter.c), which reports
// the real process's host pid on fd 3, puts it in its own process group and reports how it ended.
// The launcher is a child subreaper: it holds the daemons its process forked until the sandbox is
// over (a SIGTERM to it), and SIGKILLs that whole tree if the harness dies, as a bwrap sandbox's
// PID namespace would.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { pidMark, processesWithEnvironment, uptimeTicks, type PidMark } from '../probes/processes.js'
import { descendants, isLive } from '../supervisor/process-groups.js'
import { trackGroup, untrackGroup } from '../supervisor/exit-hook.js'
import type { HostedProcess, LaunchedExit, LaunchFailure, ProcessHost, SpawnSpec } from '../supervisor/supervisor.js'
import { launchedExit } from './launcher.js'

interface Launched {
  readonly pid: number
  readonly name: string
  running: boolean
  /** The launcher reported its process's start. */
  reported: boolean
  /** The launcher reported its process's end: what still runs under it are daemons it holds. */
  processEnded: boolean
}

export class PlainHost implements ProcessHost {
  readonly #launcher: string
  readonly #launched: Launched[] = []
  /** Every AWS_LAMBDA_RUNTIME_API its processes were given, and from when (clock ticks since boot, and the pid counter). */
  readonly #addresses = new Map<string, { readonly sinceTicks: number; readonly mark: PidMark | undefined }>()

  constructor(launcher: string) {
    this.#launcher = launcher
  }

  launch(spec: SpawnSpec): Promise<HostedProcess | LaunchFailure> {
    const address = spec.env.AWS_LAMBDA_RUNTIME_API
    if (address !== undefined && !this.#addresses.has(address)) {
      this.#addresses.set(address, { sinceTicks: uptimeTicks(), mark: pidMark() })
    }
    let child: ChildProcess
    try {
      child = spawn(this.#launcher, [String(process.pid), spec.cwd, spec.file, ...spec.args], {
        cwd: '/',
        env: spec.env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      })
    } catch (error) {
      // A NUL byte in an argument or the environment: a launch failure like any other.
      return Promise.resolve(spawnFailure(error as NodeJS.ErrnoException))
    }
    return this.#started(child, spec.name)
  }

  async #started(child: ChildProcess, name: string): Promise<HostedProcess | LaunchFailure> {
    const failed = new Promise<LaunchFailure>((resolve) => child.once('error', (error: NodeJS.ErrnoException) => resolve(spawnFailure(error))))
    const launcherExit = new Promise<LaunchedExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
    if (child.pid === undefined || child.stdout === null || child.stderr === null) {
      return failed
    }
    const launched: Launched = { pid: child.pid, name, running: true, reported: false, processEnded: false }
    this.#launched.push(launched)
    trackGroup(launched.pid)
    void launcherExit.then(() => {
      launched.running = false
      untrackGroup(launched.pid)
    })
    const started = await Promise.race([readControl(child.stdio[3] as NodeJS.ReadableStream), failed])
    if (!('pid' in started)) {
      return started
    }
    launched.reported = true
    // From here the launcher ends by itself once it holds nothing, when told (end), or when the
    // harness dies (PR_SET_PDEATHSIG), killing the daemons it adopted first: a SIGKILL from the
    // exit hook would leave those daemons to init. The process's group (the supervisor tracks it
    // too) goes in first, so the exit hook is not uninstalled and installed again per process.
    trackGroup(started.pid)
    untrackGroup(launched.pid)
    const ended = started.ended.then((exit) => exit ?? launcherExit)
    void ended.then(() => (launched.processEnded = true))
    return { pid: started.pid, stdout: child.stdout, stderr: child.stderr, ended }
  }

  /** Launchers still holding daemons after their process ended, by host pid, and whose they are. */
  holders(): ReadonlyMap<number, string> {
    return new Map(this.#launched.filter((l) => l.running && l.processEnded).map((l) => [l.pid, l.name]))
  }

  /**
   * Processes that left their group (a double-forked daemon): held by a launcher, or carrying
   * one of the API addresses the processes were given. Plain processes have no PID namespace to
   * end with the sandbox.
   */
  strays(): number[] {
    const held = [...this.holders().keys()].flatMap((pid) => descendants(pid).slice(1).filter(isLive))
    // The launchers carry the address too (they run with the process's environment).
    const launchers = new Set(this.#launched.filter((l) => l.running).map((l) => l.pid))
    const entries = [...this.#addresses].map(([address, since]) => ({ entry: `AWS_LAMBDA_RUNTIME_API=${address}`, ...since }))
    const marked = entries.length === 0 ? [] : processesWithEnvironment(entries).filter((pid) => !launchers.has(pid))
    return [...new Set([...held, ...marked])]
  }

  /** SIGKILLs the strays (`beforeKill` sees them first) and tells every launcher the sandbox is over; returns the strays. */
  end(beforeKill?: (left: readonly number[]) => void): number[] {
    const strays = this.strays()
    beforeKill?.(strays)
    for (const pid of strays) {
      signal(pid, 'SIGKILL')
    }
    for (const launched of this.#launched.filter((l) => l.running)) {
      // A launcher that reported its process kills what it holds and ends at SIGTERM; one that never did dies with its group.
      if (launched.reported) {
        signal(launched.pid, 'SIGTERM')
      } else {
        signal(-launched.pid, 'SIGKILL')
      }
    }
    return strays
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name)
  } catch {
    // Already gone.
  }
}

function spawnFailure(error: NodeJS.ErrnoException): LaunchFailure {
  return { code: error.code ?? 'UNKNOWN', message: error.message, cause: error }
}

/**
 * The launcher's lines on fd 3: `pid <n>` (or `error <CODE> <message>`; EOF first is a failure
 * too), then `exit code <n>` or `exit signal <n>` once the process has ended.
 */
function readControl(control: NodeJS.ReadableStream): Promise<{ pid: number; ended: Promise<LaunchedExit | undefined> } | LaunchFailure> {
  const lines: string[] = []
  let pending = ''
  let onLine: (() => void) | undefined
  control.setEncoding('utf8')
  control.on('data', (chunk: string) => {
    const parts = (pending + chunk).split('\n')
    pending = parts.pop() ?? ''
    lines.push(...parts)
    onLine?.()
  })
  control.on('error', () => undefined)
  const closed = Promise.race([once(control, 'end'), once(control, 'close')]).catch(() => undefined)
  const line = (index: number): Promise<string | undefined> =>
    lines.length > index
      ? Promise.resolve(lines[index])
      : Promise.race([new Promise<void>((resolve) => (onLine = resolve)), closed]).then(() => (lines.length > index ? lines[index] : undefined))
  return line(0).then((first = '') => {
    const pid = /^pid (\d+)$/.exec(first)
    if (pid !== null) {
      return { pid: Number(pid[1]), ended: line(1).then(parseExit) }
    }
    const error = /^error (\S+) (.*)$/.exec(first)
    if (error !== null) {
      return { code: error[1]!, message: error[2]!, cause: first }
    }
    return { code: 'UNKNOWN', message: `the sandbox launcher ended without starting the process${first === '' ? '' : ` (${first})`}`, cause: first }
  })
}

function parseExit(line: string | undefined): LaunchedExit | undefined {
  const exit = /^exit (code|signal) (\d+)$/.exec(line ?? '')
  return exit === null ? undefined : launchedExit(exit[1] as 'code' | 'signal', Number(exit[2]))
}
