// Telemetry never delays SHUTDOWN (issue 15, part 1). An extension in the shape of AWS's Python
// telemetry sample logs a line per delivery (each line a new record) and, on SHUTDOWN, sleeps 1 s,
// posts its queue to SINK_URL and exits. On-demand Lambda sends SHUTDOWN as soon as the runtime is
// gone (RAPID internal/lambda/rapid/shutdown.go) and delivery goes on under each subscription's
// buffering; Managed Instances flush one snapshot first, 1 s at most
// (lambda-managed-instances/rapid/shutdown.go). Batching holds in every phase.
import t, { type Test } from 'tap'
import type { BootOptions, RunRecord } from '../../harness/index.js'
import { SinkProbe } from '../../harness/probes/sink.js'
import type { TelemetryResources, TelemetrySubscriberRecord } from '../../harness/record/run-record.js'
import type { TelemetryEvent } from '../../harness/telemetry/events.js'
import { extensionsDir, fn, startSandbox } from '../helpers.js'

const EXTENSION = 'logs-each-telemetry-post'
const BUFFERING = { maxItems: 1000, maxBytes: 262144, timeoutMs: 100 }
const INVOKES = 3
const LINES = 5

function subscriberOf(record: RunRecord): TelemetrySubscriberRecord {
  const found = (record.resources.telemetry as TelemetryResources | undefined)?.subscribers.find((s) => s.name === EXTENSION)
  if (found === undefined) {
    throw new Error(`no subscriber ${EXTENSION} in resources.telemetry`)
  }
  return found
}

async function runOnce(t: Test, options: Partial<BootOptions>) {
  const sink = await SinkProbe.start({ keepBodies: 10, keepBodyBytes: 4 * 1024 * 1024 })
  t.teardown(() => sink.stop())
  const sandbox = await startSandbox(t, {
    functionDir: fn('prints-lines'),
    extensionsDir: extensionsDir(t, [EXTENSION]),
    env: { SINK_URL: sink.url, TELEMETRY_BUFFERING: JSON.stringify(BUFFERING) },
    hostPorts: [Number(new URL(sink.url).port)],
    ...options,
  })
  t.equal(sandbox.record.init?.status, 'success', 'Init succeeded')
  for (let i = 0; i < INVOKES; i++) {
    t.equal((await sandbox.invoke({ lines: LINES, tag: `invoke ${i}` })).status, 'success')
  }
  await sandbox.shutdown()
  const received = sink.received()
  t.equal(received.requests, 1, 'the extension posted its queue once')
  const events = received.bodies.flatMap((body) => JSON.parse(body) as TelemetryEvent[])
  return { record: sandbox.record, events }
}

function assertGraceful(t: Test, record: RunRecord, events: TelemetryEvent[]): void {
  t.ok(record.verdict.clean, `clean verdict: ${JSON.stringify(record.verdict.problems)}`)
  const extension = record.shutdown?.extensions.find((e) => e.name === EXTENSION)
  t.same([extension?.exit, extension?.killed], [{ code: 0, signal: null }, false], 'it exited by itself')
  // Every record emitted before SHUTDOWN reached SINK_URL: the function's lines and the platform's events.
  const lines = events.filter((e) => e.type === 'function').map((e) => e.record)
  const printed = Array.from({ length: INVOKES }, (_, i) => Array.from({ length: LINES }, (_, n) => `invoke ${i} ${n}\n`)).flat()
  t.same(lines, printed, 'every function line, in order')
  const platform = events.filter((e) => e.type.startsWith('platform.')).map((e) => e.type)
  t.same(platform.filter((type) => type === 'platform.report').length, INVOKES, 'every platform.report')
  t.ok(platform.includes('platform.initReport'), 'Init\'s events')
  const said = record.timeline.filter((e) => e.kind === 'output' && e.process === EXTENSION && e.atMs < shutdownAt(record)).map((e) => e.detail)
  const extensionRecords = events.filter((e) => e.type === 'extension').map((e) => e.record as string)
  const missing = said.filter((line) => !extensionRecords.includes(`${line.replace(/^\[stderr\] /, '')}\n`))
  t.same(missing, [], 'every line the extension wrote before SHUTDOWN')
  const subscriber = subscriberOf(record)
  t.match(subscriber, { lost: 0, dropped: 0 }, 'nothing lost or dropped')
  // Each delivery makes a new record: batches are bounded by time and maxItems, not by that loop.
  const lifetimeMs = (subscriber.endedAtMs ?? record.shutdown!.startedAtMs) - subscriber.subscribedAtMs
  const bound = Math.ceil(lifetimeMs / BUFFERING.timeoutMs) + Math.ceil(subscriber.records / BUFFERING.maxItems) + 2
  t.ok(subscriber.batches <= bound, `${subscriber.batches} batches for ${subscriber.records} records in ${lifetimeMs.toFixed(0)} ms (at most ${bound})`)
}

function shutdownAt(record: RunRecord): number {
  return record.timeline.find((e) => e.kind === 'event' && e.process === EXTENSION && e.detail.startsWith('SHUTDOWN'))?.atMs ?? Infinity
}

function runtimeExitAt(record: RunRecord): number {
  return record.timeline.find((e) => e.kind === 'exit' && e.process === 'runtime')?.atMs ?? -Infinity
}

t.test('on-demand: SHUTDOWN reaches the extension as soon as the runtime is gone; records keep flowing', async (t) => {
  const { record, events } = await runOnce(t, {})
  const gapMs = shutdownAt(record) - runtimeExitAt(record)
  t.ok(gapMs >= 0 && gapMs <= 50, `SHUTDOWN reached it ${gapMs.toFixed(1)} ms after the runtime exited`)
  t.notOk(record.timeline.some((e) => e.detail.startsWith('telemetry flush')), 'no flush before SHUTDOWN')
  assertGraceful(t, record, events)
})

t.test('Managed Instances (flushBeforeShutdown): one snapshot goes out, then SHUTDOWN; nothing waits for the loop', async (t) => {
  const { record, events } = await runOnce(t, { telemetry: { flushBeforeShutdown: true } })
  const flushed = record.timeline.find((e) => e.kind === 'phase' && e.detail.startsWith('telemetry flush'))
  t.match(flushed?.detail, /^telemetry flushed before SHUTDOWN in [\d.]+ ms$/, 'the snapshot went out within the budget')
  const gapMs = shutdownAt(record) - runtimeExitAt(record)
  t.ok(gapMs >= 0 && gapMs < 1000, `SHUTDOWN reached it ${gapMs.toFixed(1)} ms after the runtime exited`)
  assertGraceful(t, record, events)
})
