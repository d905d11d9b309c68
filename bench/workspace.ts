// What a bench run creates and must leave clean: temporary extension folders, and every process
// group either side started, checked as soon as its sandbox is torn down so a leak fails the run.
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { BootOptions, Sandbox } from '../harness/index.js'
import { PACKAGE_ROOT } from '../harness/paths.js'
import { groupMembers } from '../harness/supervisor/process-groups.js'
import { BARE_EXTENSION, type BaselineSandbox, type BaselineSpec } from './baseline/baseline-sandbox.js'
import type { Isolation } from './config.js'

export const ECHO_FUNCTION = path.join(PACKAGE_ROOT, 'fixtures', 'functions', 'echo')
/** Subscribes to INVOKE and SHUTDOWN and exits at SHUTDOWN (fixtures/extensions/lib/extension_kit.py). */
export const WELL_BEHAVED = path.join(PACKAGE_ROOT, 'fixtures', 'extensions', 'well-behaved')

/** The fixture extension that says a line per event, or the bench's bare loop. */
export type ExtensionKind = 'fixture' | 'bare'

export class Workspace {
  readonly #dirs: string[] = []
  readonly #extensionDirs = new Map<string, { dir: string; files: string[] }>()
  readonly #leftovers: number[] = []
  #checked = 0

  /**
   * A folder of `count` extensions, made once per count and kind: the well-behaved fixture
   * (well-behaved-1 …, which says a line per event), or bare-extension.py as an executable file
   * run by `python` (bare-extension-1 …), the extension the invoke suite runs on every side.
   */
  extensions(count: number, kind: ExtensionKind = 'fixture', python = '/usr/bin/python3'): { dir: string; files: string[] } {
    const key = `${kind} ${count} ${python}`
    let entry = this.#extensionDirs.get(key)
    if (entry === undefined) {
      const dir = mkdtempSync(path.join(tmpdir(), 'lh-bench-ext-'))
      this.#dirs.push(dir)
      const files: string[] = []
      for (let i = 1; i <= count; i++) {
        if (kind === 'fixture') {
          const file = path.join(dir, `well-behaved-${i}`)
          symlinkSync(WELL_BEHAVED, file)
          files.push(file)
        } else {
          // A copy, not a link: its first line names the interpreter, as a user's file would.
          const file = path.join(dir, `bare-extension-${i}`)
          writeFileSync(file, `#!${python}\n${readFileSync(BARE_EXTENSION, 'utf8')}`, { mode: 0o755 })
          files.push(file)
        }
      }
      entry = { dir, files }
      this.#extensionDirs.set(key, entry)
    }
    return entry
  }

  /** Boot options for the echo function with `extensionCount` extensions of `kind`. */
  bootOptions(python: string, extensionCount: number, isolation: Isolation | undefined, kind: ExtensionKind = 'fixture'): BootOptions {
    return {
      functionDir: ECHO_FUNCTION,
      handler: 'app.handler',
      python,
      ...(isolation === undefined ? {} : { isolation }),
      // A loaded 2-core machine can take seconds to start 50 interpreters; Init must not time out.
      initTimeoutMs: 120_000,
      ...(extensionCount > 0 ? { extensionsDir: this.extensions(extensionCount, kind, python).dir } : {}),
    }
  }

  /** The same processes for the baseline: a runtime of its kind, and the extensions of `kind`, run as the harness runs them. */
  baselineSpec(python: string, extensionCount: number, runtime: BaselineSpec['runtime'] = 'client', kind: ExtensionKind = 'fixture'): BaselineSpec {
    return {
      python,
      functionDir: ECHO_FUNCTION,
      handler: 'app.handler',
      runtime,
      extensions: extensionCount === 0 ? [] : this.extensions(extensionCount, kind, python).files,
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
