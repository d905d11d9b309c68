// The reference log-shipper (extensions/log-shipper) against a real sink: every line the function
// printed reaches the sink before the extension exits: the platform sends SHUTDOWN once the
// runtime is gone and goes on delivering what it buffered (LAMBDA-SPEC §3.3, §4.1), and the
// extension keeps receiving until deliveries stop, then forwards everything before the deadline.
// Under a spindown Shutdown, and in the resets after a timeout and after a crash (lines printed
// just before os._exit included).
import path from 'node:path'
import t, { type Test } from 'tap'
import type { BootOptions, RunRecord } from '../../harness/index.js'
import { SinkProbe, type RunningSink } from '../../harness/probes/sink.js'
import type { TelemetryResources } from '../../harness/record/run-record.js'
import type { TelemetryEvent } from '../../harness/telemetry/events.js'
import { ROOT, fn, startSandbox } from '../helpers.js'

const SHIPPER = path.join(ROOT, 'extensions', 'log-shipper')

async function boot(t: Test, options: Partial<BootOptions> = {}) {
  const sink = await SinkProbe.start({ keepBodies: 10_000, keepBodyBytes: 16 * 1024 * 1024 })
  t.teardown(() => sink.stop())
  const sandbox = await startSandbox(t, { functionDir: fn('prints-lines'), layers: [SHIPPER], env: { SINK_URL: sink.url }, hostPorts: [Number(new URL(sink.url).port)], ...options })
  t.equal(sandbox.record.init?.status, 'success', 'Init succeeded')
  return { sandbox, sink }
}

function shipped(sink: RunningSink): TelemetryEvent[] {
  return sink.received().bodies.flatMap((body) => JSON.parse(body) as TelemetryEvent[])
}

function functionLines(sink: RunningSink): string[] {
  return shipped(sink)
    .filter((e) => e.type === 'function')
    .map((e) => e.record as string)
}

/**
 * The shipper's SHUTDOWN, its last telemetry delivery and its exit, on the sandbox clock, per generation.
 * `deliveredFirst`: a delivery came before SHUTDOWN, which only a run longer than the buffering window guarantees.
 */
function shutdownOrder(t: Test, record: RunRecord, deliveredFirst = true): void {
  const shipperEvents = record.timeline.filter((e) => e.process === 'log-shipper')
  const shutdowns = shipperEvents.filter((e) => e.kind === 'event' && e.detail.startsWith('SHUTDOWN'))
  t.ok(shutdowns.length > 0, 'the shipper got SHUTDOWN')
  for (const shutdown of shutdowns) {
    const before = shipperEvents.filter((e) => e.atMs <= shutdown.atMs && e.detail.includes('delivered'))
    const runtimeExit = record.timeline.filter((e) => e.process === 'runtime' && e.kind === 'exit' && e.atMs <= shutdown.atMs).at(-1)
    if (deliveredFirst) {
      t.ok(before.length > 0, 'telemetry was delivered to it before its SHUTDOWN')
    }
    // After SHUTDOWN its own last lines may race its exit; before it, nothing may fail.
    const failedBefore = shipperEvents.filter((e) => e.atMs <= shutdown.atMs && e.detail.startsWith('telemetry: delivery failed'))
    t.same(failedBefore, [], 'no delivery failed before SHUTDOWN')
    t.ok(runtimeExit !== undefined, 'the runtime had exited before SHUTDOWN went out')
  }
  t.notOk(record.timeline.some((e) => e.detail.startsWith('telemetry flush')), 'no flush held SHUTDOWN back (on-demand order)')
  for (const process of record.processes.filter((p) => p.name === 'log-shipper')) {
    t.same(process.exit, { code: 0, signal: null }, `the shipper of generation ${process.generation} exited 0 on its own`)
    t.equal(process.killed, false)
  }
  for (const subscriber of (record.resources.telemetry as TelemetryResources).subscribers) {
    t.match(subscriber, { name: 'log-shipper', dropped: 0, lost: 0 }, `generation ${subscriber.generation}: nothing dropped or lost`)
    t.ok(subscriber.delivered > 0 && subscriber.delivered >= subscriber.records - subscriber.unsentAtExit, 'everything before SHUTDOWN was delivered')
  }
  t.notOk(
    record.verdict.problems.some((p) => p.code.startsWith('telemetry-')),
    'no telemetry problem in the verdict',
  )
}

t.test('spindown: 5,000 lines across 20 invokes, every one at the sink before the shipper exits', async (t) => {
  const { sandbox, sink } = await boot(t)
  for (let invoke = 0; invoke < 20; invoke++) {
    const result = await sandbox.invoke({ lines: 250, tag: `invoke-${invoke}` })
    t.equal(result.status, 'success', `invoke ${invoke + 1}`)
  }
  await sandbox.shutdown()
  const lines = functionLines(sink)
  const expected = Array.from({ length: 20 }, (_, invoke) => Array.from({ length: 250 }, (_, i) => `invoke-${invoke} ${i}\n`)).flat()
  t.equal(lines.length, 5000, 'all 5,000 lines arrived')
  t.same(lines, expected, 'each once, in order')
  const types = new Set(shipped(sink).map((e) => e.type))
  for (const type of ['platform.initStart', 'platform.start', 'platform.runtimeDone', 'platform.report', 'extension']) {
    t.ok(types.has(type), `${type} was shipped too`)
  }
  t.equal(shipped(sink).filter((e) => e.type === 'platform.report').length, 20, 'a report per invoke, the last one included')
  shutdownOrder(t, sandbox.record)
  t.ok(sandbox.record.verdict.clean, 'clean')
})

t.test('a timeout reset: what the function printed before it was stopped is shipped', async (t) => {
  const { sandbox, sink } = await boot(t, { timeoutSec: 1 })
  const result = await sandbox.invoke({ lines: 300, tag: 'slow', sleep: 10 })
  t.equal(result.status, 'timeout')
  t.equal(result.resetReason, 'timeout')
  t.same(functionLines(sink), Array.from({ length: 300 }, (_, i) => `slow ${i}\n`))
  const report = shipped(sink).find((e) => e.type === 'platform.report')
  t.match(report?.record, { requestId: result.requestId, status: 'timeout' })
  t.match(sandbox.record.logs.find((line) => line.startsWith('REPORT')), /\tStatus: timeout\t$/)
  shutdownOrder(t, sandbox.record)
})

t.test('a failure reset: lines printed just before the runtime died are shipped', async (t) => {
  const { sandbox, sink } = await boot(t)
  const result = await sandbox.invoke({ lines: 300, tag: 'dying', exit: 1 })
  t.equal(result.errorType, 'Runtime.ExitError')
  t.equal(result.resetReason, 'failure')
  t.same(functionLines(sink), Array.from({ length: 300 }, (_, i) => `dying ${i}\n`))
  t.match(shipped(sink).find((e) => e.type === 'platform.report')?.record, { status: 'error', errorType: 'Runtime.ExitError' })
  const events = sandbox.record.resets[0]?.extensions[0]?.events ?? []
  t.same(events.filter((e) => e.eventType === 'SHUTDOWN').map((e) => e.shutdownReason), ['failure'])
  // A runtime that dies at once is reset within the buffering window: SHUTDOWN may precede the first
  // delivery (on-demand order, as on Lambda); what it printed is still all shipped (above).
  shutdownOrder(t, sandbox.record, false)
})
