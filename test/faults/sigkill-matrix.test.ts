// Faults (issue 7 "Hardening", item 3): SIGKILL from outside, to the runtime or to an extension, at
// each phase: Init, mid-invoke, post-invoke (the runtime has answered, the extension has not yet
// called /event/next) and Shutdown. Each cell ends as LAMBDA-SPEC prescribes (§3.3: a process that
// exits mid-lifecycle is Runtime.ExitError / Extension.Crash and a reset with reason failure, the
// next invoke re-inits; during Shutdown it is an exit, not our kill) and with a complete RunRecord.
// Fixtures announce their phase and hold there until killed (fixtures/extensions/holds-*,
// fixtures/functions/holds-init-once), so the kill lands in the phase without any sleep.
import { randomBytes } from 'node:crypto'
import { readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { formatReport, type BootOptions, type InvocationRecord, type RunRecord } from '../../harness/index.js'
import { extensionsDir, fn, groupMembers, startSandbox } from '../helpers.js'
import { KillAt, killedRecord, type Kill, type Seen } from './kill-at.js'

// Two sandboxes at a time at most: the machine is shared.
t.jobs = 2

type Target = 'runtime' | 'extension'
type Phase = 'init' | 'mid-invoke' | 'post-invoke' | 'shutdown'

interface Cell {
  readonly target: Target
  readonly phase: Phase
  readonly functionName: string
  readonly extension: string
  readonly options?: Partial<BootOptions>
  /** The first invoke's event (the one the kill lands in, for the invoke phases). */
  readonly event?: unknown
  /** Seen on the timeline, all of them, before the kill. */
  readonly when: readonly Seen[]
  /** What the cell's record must show, beyond what every cell shows. */
  check(t: Test, run: Run): void
}

interface Run {
  readonly record: RunRecord
  readonly kill: Kill
  /** The first invoke: in the Init cells it runs the suppressed Init; in the invoke cells the kill lands in it. */
  readonly first: InvocationRecord
  /** A second invoke, to show the sandbox recovered; undefined in the Shutdown cells. */
  readonly next: InvocationRecord | undefined
}

const output = (process: string, line: RegExp): Seen => ({ process, kind: 'output', detail: line })
const handlerRunning = output('runtime', /^handler-running 0$/)
const holdingAfterInvoke = output('holds-after-invoke', /^holds-after-invoke holding after INVOKE$/)
const responded: Seen = { process: 'runtime', kind: 'api', detail: /^POST \/2018-06-01\/runtime\/invocation\/[^/]+\/response → 202$/ }
/** Long enough that only the kill, never the function timeout, ends a held invoke. */
const HELD = { timeoutSec: 60 }
/** The caller's body for a platform-made error (RAPID GetErrorResponseWithFormattedErrorMessage). */
const platformError = (requestId: string, errorType: string, message: string) =>
  JSON.stringify({ errorMessage: `RequestId: ${requestId} Error: ${message}`, errorType })

/** After the runtime's response, while the extension holds before its next /event/next. */
const POST_INVOKE = {
  functionName: 'echo',
  extension: 'holds-after-invoke',
  options: HELD,
  event: { answered: true },
  when: [responded, holdingAfterInvoke],
}

/** Mid-invoke: the handler runs (and would for a minute). */
const MID_INVOKE = {
  functionName: 'prints-lines',
  options: HELD,
  event: { lines: 1, tag: 'handler-running', sleep: 60 },
}

/** Init failed with `errorType`, one reset followed, and the first invoke's suppressed Init went through. */
function initFailed(t: Test, { record, first }: Run, errorType: string): void {
  t.match(record.init, { status: 'error', phase: 'init', errorType }, `Init failed with ${errorType}`)
  t.same(record.resets.map((r) => r.reason), ['failure'], 'one reset, reason failure')
  t.same(codes(record), ['init-failed', 'reset'])
  t.match(first, { status: 'success', init: { phase: 'invoke', status: 'success' } }, 'the first invoke ran a suppressed Init, which went through')
}

/** The invoke failed with `errorType` and a reset before the runtime answered: its caller got the platform's error. */
function failedBeforeResponse(t: Test, first: InvocationRecord, errorType: string, message: string): void {
  t.match(first, { status: 'error', errorType, functionError: 'Unhandled', resetReason: 'failure' })
  t.equal(first.response, platformError(first.requestId, errorType, message))
}

/** The invoke failed with `errorType` and a reset, though its caller already had the function's response. */
function failedAfterResponse(t: Test, first: InvocationRecord, errorType: string): void {
  t.match(first, { status: 'error', errorType, resetReason: 'failure' })
  t.same(JSON.parse(first.response), { answered: true }, 'the caller already had the function\'s response')
  t.equal(first.functionError, undefined, 'and no function error')
}

const cells: Cell[] = [
  {
    target: 'runtime',
    phase: 'init',
    functionName: 'holds-init-once',
    extension: 'well-behaved',
    when: [output('runtime', /^holding in init$/)],
    check: (t, run) => initFailed(t, run, 'Runtime.ExitError'),
  },
  {
    target: 'runtime',
    phase: 'mid-invoke',
    ...MID_INVOKE,
    extension: 'well-behaved',
    when: [handlerRunning],
    check(t, { record, first, next }) {
      failedBeforeResponse(t, first, 'Runtime.ExitError', 'Runtime exited with error: signal: killed')
      t.same(codes(record), ['reset'])
      t.match(next?.init, { phase: 'invoke', status: 'success' }, 'the next invoke ran a suppressed Init')
    },
  },
  {
    target: 'runtime',
    phase: 'post-invoke',
    ...POST_INVOKE,
    check(t, { record, first, next }) {
      failedAfterResponse(t, first, 'Runtime.ExitError')
      const reset = record.resets[0]
      t.equal(reset?.reason, 'failure')
      // It never calls /event/next again, so the reset's SHUTDOWN cannot reach it (LAMBDA-SPEC §2.3).
      t.match(reset?.extensions[0], { name: 'holds-after-invoke', killed: true, exit: { signal: 'SIGKILL' } }, 'the held extension is killed at the reset\'s deadline')
      t.same(codes(record), ['extension-killed-at-deadline', 'reset'])
      t.match(next?.init, { phase: 'invoke', status: 'success' })
    },
  },
  {
    target: 'runtime',
    phase: 'shutdown',
    functionName: 'sigterm-handler-hangs',
    extension: 'well-behaved',
    // A share far beyond the kill, so the harness's own SIGKILL at its end cannot come first.
    options: { runtimeShutdownMs: 1500 },
    when: [output('runtime', /^SIGTERM received, hanging$/)],
    check(t, { record, kill }) {
      const shutdown = record.shutdown!
      t.same(shutdown.runtime?.signals.map((s) => s.signal), ['SIGTERM'], 'the harness sent SIGTERM only')
      t.ok(kill.atMs - shutdown.startedAtMs < shutdown.runtimeShareMs, 'killed within its share')
      const ext = shutdown.extensions[0]!
      const event = ext.events.find((e) => e.eventType === 'SHUTDOWN')
      t.ok(event !== undefined && event.atMs >= shutdown.runtime!.exitedAtMs!, 'SHUTDOWN went out once the runtime was gone')
      t.match(ext, { exit: { code: 0, signal: null }, state: 'Exited', killed: false })
      t.same(codes(record), ['killed-from-outside'])
    },
  },
  {
    target: 'extension',
    phase: 'init',
    functionName: 'echo',
    extension: 'holds-in-init',
    when: [output('holds-in-init', /^holds-in-init holding in init$/)],
    check: (t, run) => initFailed(t, run, 'Extension.Crash'),
  },
  {
    target: 'extension',
    phase: 'mid-invoke',
    ...MID_INVOKE,
    extension: 'holds-after-invoke',
    when: [handlerRunning, holdingAfterInvoke],
    check(t, { record, first, next }) {
      failedBeforeResponse(t, first, 'Extension.Crash', 'signal: killed')
      const reset = record.resets[0]
      t.same(reset?.runtime?.signals.map((s) => s.signal), ['SIGTERM'], 'the reset SIGTERMed the runtime still in its handler')
      t.same(codes(record), ['reset'])
      t.match(next, { status: 'success', init: { phase: 'invoke', status: 'success' } })
    },
  },
  {
    target: 'extension',
    phase: 'post-invoke',
    ...POST_INVOKE,
    check(t, { record, first, next }) {
      failedAfterResponse(t, first, 'Extension.Crash')
      t.same(record.resets.map((r) => r.reason), ['failure'])
      t.same(codes(record), ['reset'])
      t.match(next, { status: 'success', init: { phase: 'invoke', status: 'success' } })
    },
  },
  {
    target: 'extension',
    phase: 'shutdown',
    functionName: 'echo',
    extension: 'ignores-shutdown',
    when: [output('ignores-shutdown', /^ignores-shutdown ignoring SHUTDOWN$/)],
    check(t, { record, kill }) {
      const shutdown = record.shutdown!
      const ext = shutdown.extensions[0]!
      t.equal(ext.state, 'ShutdownFailed', 'a signal exit during Shutdown is ShutdownFailed (LAMBDA-SPEC §3.3)')
      t.ok(kill.atMs < shutdown.deadlineAtMs && ext.exitedAtMs! < shutdown.deadlineAtMs, 'it died before the deadline')
      t.ok(shutdown.startedAtMs + shutdown.durationMs < shutdown.deadlineAtMs, 'and Shutdown ended at its exit, not at the deadline')
      t.same(codes(record), ['extension-shutdown-failed'])
    },
  },
]

const outcomes: string[] = []

// Isolated (the default) and plain processes: the kill lands on the process either way.
const runs = (['auto', 'none'] as const).flatMap((isolation) => cells.map((cell) => ({ isolation, cell })))

for (const { isolation, cell } of runs) {
  const phase = cell.phase === 'shutdown' ? 'during Shutdown' : cell.phase === 'init' ? 'during Init' : cell.phase
  t.test(`SIGKILL to the ${cell.target} ${phase} (${isolation === 'none' ? 'plain processes' : 'isolated'})`, { buffered: true }, async (t) => {
    const startedMs = performance.now()
    const target = cell.target === 'runtime' ? 'runtime' : cell.extension
    const killer = new KillAt(target, cell.when)
    // Holding fixtures hold once: the marker they leave in /tmp (which survives resets) lets their
    // restarted process through. In a bwrap sandbox /tmp is its own; this removes any host leftovers.
    const marker = path.join(tmpdir(), `lh-hold-${randomBytes(6).toString('hex')}`)
    t.teardown(() => removeMarkers(marker))
    const sandbox = await startSandbox(
      t,
      { functionDir: fn(cell.functionName), extensionsDir: extensionsDir(t, [cell.extension]), env: { HOLD_MARKER: marker }, isolation, ...cell.options },
      killer.hooks,
    )
    const first = await sandbox.invoke(cell.event ?? {})
    const next = cell.phase === 'shutdown' ? undefined : await sandbox.invoke({ after: 'the kill' })
    t.equal(next?.status ?? 'success', 'success', 'the invoke after the reset succeeded')
    if (next !== undefined && cell.functionName !== 'prints-lines') {
      t.same(JSON.parse(next.response), { after: 'the kill' }, 'the invoke after the reset returned the function\'s response')
    }
    await sandbox.shutdown()
    const record = sandbox.record
    const kill = killer.kill
    cell.check(t, { record, kill, first, next })
    assertComplete(t, record, kill)
    const killed = killedRecord(record, kill)
    outcomes.push(
      `| ${cell.target} | ${cell.phase} | ${isolation === 'none' ? 'plain' : 'isolated'} | ${record.init?.status}${record.init?.errorType === undefined ? '' : ` ${record.init.errorType}`} | ` +
        `${first.status}${first.errorType === undefined ? '' : ` ${first.errorType}`} | ${record.resets.map((r) => r.reason).join(', ') || '–'} | ` +
        `${killed.state}, killed by us: ${killed.killed} | ${codes(record).join(', ')} | ${((performance.now() - startedMs) / 1000).toFixed(1)} s |`,
    )
  })
}

t.teardown(() => {
  t.comment(['| target | phase | mode | Init | first invoke | resets | killed process | problems | time |', ...outcomes.sort()].join('\n'))
})

/** What every cell's record must hold, whatever the phase. */
function assertComplete(t: Test, record: RunRecord, kill: Kill): void {
  const killed = killedRecord(record, kill)
  t.same(killed.exit, { code: null, signal: 'SIGKILL' }, `${kill.name} (pid ${kill.pid}) ended by SIGKILL`)
  t.equal(killed.killed, false, 'recorded as an exit, not as a kill by the harness')
  t.notOk(killed.signals.some((s) => s.signal === 'SIGKILL'), 'the harness never sent it SIGKILL')
  t.ok(
    record.timeline.some((e) => e.kind === 'exit' && e.process === kill.name && e.detail === 'exited (signal: killed)' && e.atMs >= kill.atMs),
    'the timeline has its exit after the kill',
  )
  t.ok(record.shutdown?.final === true, 'the final Shutdown ran and is recorded')
  for (const process of record.processes) {
    t.ok(process.exit !== null && process.exitedAtMs !== null, `${process.name} (generation ${process.generation}) has its exit: ${JSON.stringify(process.exit)}`)
  }
  const named = kill.name === 'runtime' ? /\bthe runtime\b/ : new RegExp(`\`${kill.name}\``)
  t.ok(
    record.verdict.problems.some((p) => p.process === kill.name || named.test(p.message)),
    `a problem names ${kill.name}: ${JSON.stringify(record.verdict.problems.map((p) => p.message))}`,
  )
  t.equal(record.verdict.clean, false)
  t.same(JSON.parse(JSON.stringify(record)), record, 'the record survives JSON')
  const report = formatReport(record)
  t.match(report, /Verdict: \d+ problem\(s\)/, 'the text report renders')
  t.ok(report.includes(kill.name), 'and names the process')
  t.same(groupMembers(kill.pid), [], 'nothing of its process group is left')
}

/** Problem codes, sorted: the reset's own problem comes after those its Shutdown found. */
function codes(record: RunRecord): string[] {
  return record.verdict.problems.map((p) => p.code).sort()
}

function removeMarkers(marker: string): void {
  const prefix = path.basename(marker)
  for (const name of readdirSync(path.dirname(marker)).filter((n) => n.startsWith(prefix))) {
    rmSync(path.join(path.dirname(marker), name), { force: true })
  }
}
