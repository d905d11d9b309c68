// Shared test helpers: boot a sandbox and register its teardown in one call, fixture paths,
// temporary extension folders, and waits that are events with deadlines, never sleeps.
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { boot, type BootOptions, type Sandbox, type SandboxHooks } from '../harness/index.js'
import type { RunRecord, TimelineEntry } from '../harness/index.js'
import { groupMembers } from '../harness/supervisor/process-groups.js'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const FUNCTIONS = path.join(ROOT, 'fixtures', 'functions')
export const EXTENSIONS = path.join(ROOT, 'fixtures', 'extensions')
export const RUNTIMES = path.join(ROOT, 'fixtures', 'runtimes')
/** Debian's interpreter: fast to start (no pyenv shim) and the one that has psycopg2. */
export const PYTHON = '/usr/bin/python3'

export function fn(name: string): string {
  return path.join(FUNCTIONS, name)
}

/** A temporary /opt/extensions with the named fixture extensions, removed at teardown. */
export function extensionsDir(t: Test, names: readonly string[]): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'lh-ext-'))
  for (const name of names) {
    symlinkSync(path.join(EXTENSIONS, name), path.join(dir, name))
  }
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Boots a sandbox and registers its disposal and a leak check with the test. */
export async function startSandbox(t: Test, options: Partial<BootOptions> & { functionDir: string }, hooks: SandboxHooks = {}): Promise<Sandbox> {
  const sandbox = await boot({ handler: 'app.handler', python: PYTHON, ...options }, hooks)
  t.teardown(async () => {
    const pids = sandbox.record.processes.map((p) => p.pid).filter((pid): pid is number => pid !== null)
    await sandbox.dispose()
    const alive = pids.flatMap((pid) => groupMembers(pid))
    if (alive.length > 0) {
      // Teardown cannot assert; a throw here fails the test loudly.
      throw new Error(`processes still alive after dispose: ${alive.join(', ')}`)
    }
  })
  return sandbox
}

export { groupMembers }

export function entries(record: RunRecord, filter: (entry: TimelineEntry) => boolean): TimelineEntry[] {
  return record.timeline.filter(filter)
}

/** The first timeline entry matching, or a failure naming what was missing. */
export function at(record: RunRecord, process: string | undefined, pattern: RegExp): number {
  const entry = record.timeline.find((e) => (process === undefined || e.process === process) && pattern.test(e.detail))
  if (entry === undefined) {
    throw new Error(`no timeline entry for ${process ?? 'any process'} matching ${pattern}`)
  }
  return entry.atMs
}

/**
 * Checks `condition` every 10 ms until it holds or `timeoutMs` passes: a bounded wait for state
 * that emits no event (the kernel's view of a process, a counter in another process).
 */
export async function until(condition: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) {
      return false
    }
    await sleep(10)
  }
  return true
}
