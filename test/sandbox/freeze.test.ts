// Freeze between invokes (LAMBDA-SPEC §3.2): with `freeze: true` every process group is SIGSTOPped
// after an invoke completes and SIGCONTed when the next one starts, so background threads pause.
// fixtures/functions/background-thread counts every 10 ms in a daemon thread and returns the count.
import { setTimeout } from 'node:timers/promises'
import t, { type Test } from 'tap'
import type { RunRecord } from '../../harness/index.js'
import { extensionsDir, fn, startSandbox } from '../helpers.js'

/** How long the sandbox sits idle between the two invokes. */
const IDLE_MS = 300

/** Two invokes IDLE_MS apart; returns both counter values and the measured idle time. */
async function countAcrossIdle(t: Test, freeze: boolean, extensions: readonly string[] = []) {
  const sandbox = await startSandbox(t, {
    functionDir: fn('background-thread'),
    freeze,
    ...(extensions.length > 0 ? { extensionsDir: extensionsDir(t, extensions) } : {}),
  })
  const first = await sandbox.invoke({})
  const idleStartedAt = performance.now()
  // A timer on purpose, not a sleep standing in for an event: the point is wall time passing
  // while the sandbox is idle (frozen or not), and nothing in the sandbox signals its end.
  await setTimeout(IDLE_MS)
  const idleMs = performance.now() - idleStartedAt
  const second = await sandbox.invoke({})
  t.equal(first.status, 'success')
  t.equal(second.status, 'success')
  await sandbox.shutdown()
  const record = sandbox.record
  return { before: Number(first.response), after: Number(second.response), idleMs, record, unfrozenMs: unfrozenMs(record) }
}

/**
 * How long the runtime ran between reading the counter in the first invoke and reading it in the
 * second, apart from the frozen stretch: from the first /response to SIGSTOP, and from SIGCONT to
 * the second /response. On an idle machine that is ~10 ms; a loaded one stretches it, and the
 * counter may then advance by one per 10 ms of it.
 */
function unfrozenMs(record: RunRecord): number {
  const [first, second] = record.invocations
  const responseAt = (requestId: string) =>
    record.timeline.find((e) => e.kind === 'api' && e.process === 'runtime' && e.detail.includes(`/invocation/${requestId}/response`))?.atMs ?? NaN
  const runtime = record.processes.find((p) => p.name === 'runtime')
  const stop = runtime?.signals.find((s) => s.signal === 'SIGSTOP')?.atMs ?? NaN
  const cont = runtime?.signals.find((s) => s.signal === 'SIGCONT')?.atMs ?? NaN
  return stop - responseAt(first!.requestId) + (responseAt(second!.requestId) - cont)
}

/**
 * The exclusive bound on increments across a frozen idle time: one when the sleep cut by SIGSTOP
 * returns on SIGCONT, one per 10 ms of unfrozen time plus one per stretch for rounding, and one for
 * the handler-to-/response lag. With ~10 ms unfrozen (an idle machine) the assertion is "< 5".
 */
function frozenAllowance(unfrozen: number): number {
  return 4 + Math.ceil(unfrozen / 10)
}

function signalsOf(record: RunRecord, name: string): [string, string][] {
  const process = record.processes.find((p) => p.name === name)
  return (process?.signals ?? []).map((s) => [s.signal, s.why])
}

t.test('frozen: the background thread barely advances while idle; SIGSTOP and SIGCONT are recorded', async (t) => {
  const { before, after, idleMs, record, unfrozenMs } = await countAcrossIdle(t, true)
  t.ok(idleMs >= IDLE_MS - 5, `idle for ${idleMs.toFixed(0)} ms`)
  t.ok(unfrozenMs >= 0, `unfrozen for ${unfrozenMs.toFixed(1)} ms around the idle time`)
  t.ok(
    after - before < frozenAllowance(unfrozenMs),
    `counter ${before} → ${after} across ${idleMs.toFixed(0)} ms frozen (< ${frozenAllowance(unfrozenMs)} increments)`,
  )
  t.same(
    signalsOf(record, 'runtime'),
    [
      ['SIGSTOP', 'freeze between invokes'],
      ['SIGCONT', 'thaw'],
      ['SIGSTOP', 'freeze between invokes'],
      ['SIGCONT', 'thaw'],
      ['SIGKILL', 'shutdown without extensions'],
    ],
    'frozen after each invoke, thawed before the next invoke and before Shutdown',
  )
  const runtime = record.processes.find((p) => p.name === 'runtime')!
  const [stop, cont] = runtime.signals
  const second = record.invocations[1]!
  t.ok(stop!.atMs < second.startedAtMs && cont!.atMs >= second.startedAtMs, 'the first freeze spans the idle time up to the second invoke')
  t.ok(cont!.atMs - stop!.atMs >= IDLE_MS - 5, `frozen for ${(cont!.atMs - stop!.atMs).toFixed(0)} ms`)
  t.same(record.verdict, { clean: true, problems: [] })
})

t.test('not frozen: the background thread keeps counting while idle', async (t) => {
  const { before, after, idleMs, record } = await countAcrossIdle(t, false)
  // 10 ms sleeps give about 30 increments in 300 ms; a loaded machine oversleeps, so ask for 10.
  t.ok(after - before >= 10, `counter ${before} → ${after} across ${idleMs.toFixed(0)} ms idle`)
  t.same(signalsOf(record, 'runtime'), [['SIGKILL', 'shutdown without extensions']], 'no SIGSTOP or SIGCONT')
})

t.test('frozen with an extension: its group is stopped too, and thawed for Shutdown', async (t) => {
  const { before, after, record, unfrozenMs } = await countAcrossIdle(t, true, ['well-behaved'])
  t.ok(
    after - before < frozenAllowance(unfrozenMs),
    `counter ${before} → ${after} while frozen (< ${frozenAllowance(unfrozenMs)} increments, ${unfrozenMs.toFixed(1)} ms unfrozen)`,
  )
  const stopCont = (name: string) => signalsOf(record, name).filter(([signal]) => signal === 'SIGSTOP' || signal === 'SIGCONT')
  const expected = [
    ['SIGSTOP', 'freeze between invokes'],
    ['SIGCONT', 'thaw'],
    ['SIGSTOP', 'freeze between invokes'],
    ['SIGCONT', 'thaw'],
  ]
  t.same(stopCont('runtime'), expected)
  t.same(stopCont('well-behaved'), expected)
  const ext = record.shutdown!.extensions[0]!
  const lastCont = ext.signals.filter((s) => s.signal === 'SIGCONT').at(-1)!
  t.ok(lastCont.atMs <= record.shutdown!.startedAtMs + 50, 'thawed as Shutdown began')
  t.ok(ext.events.some((e) => e.eventType === 'SHUTDOWN'), 'then it received SHUTDOWN')
  t.same(ext.exit, { code: 0, signal: null }, 'and exited 0: nothing stayed stopped')
  t.same(record.verdict, { clean: true, problems: [] })
})
