// What a bench run creates and must leave clean: temporary extension folders, and every process
// group either side started, checked as soon as its sandbox is torn down so a leak fails the run.
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { BootOptions, Sandbox } from '../harness/index.js'
import { PACKAGE_ROOT } from '../harness/paths.js'
import { groupMembers } from '../harness/supervisor/process-groups.js'
import type { BaselineSandbox, BaselineSpec } from './baseline/baseline-sandbox.js'
import type { Isolation } from './config.js'

export const ECHO_FUNCTION = path.join(PACKAGE_ROOT, 'fixtures', 'functions', 'echo')
/** Subscribes to INVOKE and SHUTDOWN and exits at SHUTDOWN (fixtures/extensions/lib/extension_kit.py). */
export const WELL_BEHAVED = path.join(PACKAGE_ROOT, 'fixtures', 'extensions', 'well-behaved')

export class Workspace {
  readonly #dirs: string[] = []
  readonly #extensionDirs = new Map<number, { dir: string; files: string[] }>()
  readonly #leftovers: number[] = []
  #checked = 0

  /** A folder of `count` well-behaved extensions (well-behaved-1 …), made once per count. */
  extensions(count: number): { dir: string; files: string[] } {
    let entry = this.#extensionDirs.get(count)
    if (entry === undefined) {
      const dir = mkdtempSync(path.join(tmpdir(), 'lh-bench-ext-'))
      this.#dirs.push(dir)
      const files: string[] = []
      for (let i = 1; i <= count; i++) {
        const file = path.join(dir, `well-behaved-${i}`)
        symlinkSync(WELL_BEHAVED, file)
        files.push(file)
      }
      entry = { dir, files }
      this.#extensionDirs.set(count, entry)
    }
    return entry
  }

  /** Boot options for the echo function with `extensionCount` well-behaved extensions. */
  bootOptions(python: string, extensionCount: number, isolation: Isolation | undefined): BootOptions {
    return {
      functionDir: ECHO_FUNCTION,
      handler: 'app.handler',
      python,
      ...(isolation === undefined ? {} : { isolation }),
      // A loaded 2-core machine can take seconds to start 50 interpreters; Init must not time out.
      initTimeoutMs: 120_000,
      ...(extensionCount > 0 ? { extensionsDir: this.extensions(extensionCount).dir } : {}),
    }
  }

  /** The same processes for the baseline: our clients (`client`) or bare loops (`bare`). */
  baselineSpec(python: string, extensionCount: number, kind: 'client' | 'bare' = 'client'): BaselineSpec {
    return {
      python,
      functionDir: ECHO_FUNCTION,
      handler: 'app.handler',
      runtime: kind,
      extensions: extensionCount === 0 ? [] : this.extensions(extensionCount).files,
      extensionKind: kind,
    }
  }

  /** Disposes a harness sandbox, then checks its processes are gone. */
  async disposeHarness(sandbox: Sandbox): Promise<void> {
    await sandbox.dispose()
    this.assertGone(Workspace.pidsOf(sandbox))
  }

  /** Disposes a baseline sandbox, then checks its processes are gone. */
  async disposeBaseline(sandbox: BaselineSandbox): Promise<void> {
    await sandbox.dispose()
    this.assertGone(sandbox.pids)
  }

  /**
   * Right after a teardown: every one of these process groups must be gone. A live member is
   * SIGKILLed and counted, and the run fails at its end. Checked at once, not at the end of the
   * run, so a recycled pid (pid_max is 32768 here) can never make us kill someone else's process.
   */
  assertGone(pids: Iterable<number>): void {
    for (const pid of pids) {
      this.#checked++
      const alive = groupMembers(pid)
      if (alive.length > 0) {
        this.#leftovers.push(...alive)
        try {
          process.kill(-pid, 'SIGKILL')
        } catch {
          // Gone meanwhile.
        }
      }
    }
  }

  /** The pids of a sandbox's processes (reads the record: keep it out of timings). */
  static pidsOf(sandbox: Sandbox): number[] {
    return sandbox.record.processes.flatMap((p) => (p.pid === null ? [] : [p.pid]))
  }

  get checkedProcesses(): number {
    return this.#checked
  }

  get leftovers(): readonly number[] {
    return this.#leftovers
  }

  removeFolders(): void {
    for (const dir of this.#dirs.splice(0)) {
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
