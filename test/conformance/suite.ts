// Shared by the conformance tests: run `check` on a fixture the way a user would (the public
// runCheck), with fewer invokes where leaks are not the point, and look at what failed.
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Test } from 'tap'
import { runCheck, type CheckOptions, type CheckReport } from '../../harness/index.js'
import { EXTENSIONS, PYTHON, ROOT, groupMembers } from '../helpers.js'

// tap's process tracker (@tapjs/processinfo) puts itself into every Node child through NODE_OPTIONS,
// extensions in the sandbox included, and at exit writes under $_TAPJS_PROCESSINFO_CWD_/.tap, which
// the sandbox's read-only root refuses: the Node extension then exits 1 after SHUTDOWN. Point it at
// the sandbox's own writable /tmp. Only under tap; a user's `check` has no such variable.
if (process.env._TAPJS_PROCESSINFO_CWD_ !== undefined) {
  process.env._TAPJS_PROCESSINFO_CWD_ = path.join(tmpdir(), 'lambda-harness-tap-processinfo')
}

/** Invokes of many-invokes in these tests: enough for a leak of one thing per invoke to show. */
export const TEST_MANY_INVOKES = 50

export function fixture(name: string): string {
  return path.join(EXTENSIONS, name)
}

export function reference(name: string): string {
  return path.join(ROOT, 'extensions', name)
}

/** runCheck, then a check that no process of any scenario is still alive. */
export async function check(t: Test, target: string, options: Partial<CheckOptions> = {}): Promise<CheckReport> {
  const report = await runCheck({ target, python: PYTHON, manyInvokes: TEST_MANY_INVOKES, ...options })
  const pids = report.scenarios.flatMap((s) => s.record.processes.map((p) => p.pid)).filter((pid): pid is number => pid !== null)
  t.same(pids.flatMap((pid) => groupMembers(pid)), [], `${path.basename(target)}: nothing left running after the check`)
  return report
}

export function failed(report: CheckReport): string[] {
  return report.checks.filter((c) => c.outcome === 'fail').map((c) => c.id)
}

/** Asserts the failures are exactly `expected`, each with its expected/happened/fix filled in. */
export function failsExactly(t: Test, report: CheckReport, expected: readonly string[]): void {
  const name = report.target.extensions.join(', ')
  const unexpected = report.checks.filter((c) => c.outcome === 'fail' && !expected.includes(c.id)).map((c) => `${c.id}: ${c.happened}`)
  t.same(failed(report).sort(), [...expected].sort(), `${name} fails exactly ${expected.join(', ') || 'nothing'}`, { unexpected })
  for (const result of report.checks.filter((c) => c.outcome === 'fail')) {
    t.ok(result.expected !== '' && result.happened !== '' && result.fix !== '', `${result.id}: says what was expected, what happened and how to fix it`)
  }
  t.equal(report.ok, expected.length === 0)
}

/** Runs the jobs a few at a time (each check already runs three scenarios at once). */
export async function inParallel<T>(jobs: readonly (() => Promise<T>)[], limit = 2): Promise<T[]> {
  const results: T[] = []
  let next = 0
  const worker = async () => {
    while (next < jobs.length) {
      const index = next++
      results[index] = await jobs[index]!()
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker))
  return results
}

export function byId(report: CheckReport, id: string) {
  const result = report.checks.find((c) => c.id === id)
  if (result === undefined) {
    throw new Error(`no check ${id} in the report`)
  }
  return result
}
