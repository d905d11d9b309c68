// Delivery to real subscriber processes (LAMBDA-SPEC §4.1, §4.2): batches by maxItems, every
// platform event and output line, each line keeping its "\n", everything buffered delivered after
// the runtime exited and before SHUTDOWN in Managed Instances' order; TCP as NDJSON; a failing destination gets retries and
// platform.logsDropped; one that never answers stalls nothing.
import t, { type Test } from 'tap'
import type { BootOptions, RunRecord, SandboxHooks, TimelineEntry } from '../../harness/index.js'
import { SinkProbe, type RunningSink } from '../../harness/probes/sink.js'
import type { TelemetryResources, TelemetrySubscriberRecord } from '../../harness/record/run-record.js'
import type { TelemetryEvent } from '../../harness/telemetry/events.js'
import { extensionsDir, fn, startSandbox } from '../helpers.js'

interface Written {
  batch?: TelemetryEvent[]
  rejected?: TelemetryEvent[]
  shutdown?: string
  host?: string
  path?: string
  sequenceId?: string
  tcp?: boolean
}

/** What the subscriber fixture reported, in order: one entry per batch it took, then SHUTDOWN. */
function readOut(sink: RunningSink): Written[] {
  return sink.received().bodies.map((body) => JSON.parse(body) as Written)
}

function subscriberOf(record: RunRecord, name: string): TelemetrySubscriberRecord {
  const found = (record.resources.telemetry as TelemetryResources | undefined)?.subscribers.find((s) => s.name === name)
  if (found === undefined) {
    throw new Error(`no subscriber ${name} in resources.telemetry`)
  }
  return found
}

/** Whether `promise` settled within `ms`; the timer is cleared either way. */
function withDeadline(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    void promise.then(() => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

async function bootWith(t: Test, extension: string, env: Record<string, string>, options: Partial<BootOptions> = {}, hooks: SandboxHooks = {}) {
  const out = await SinkProbe.start({ keepBodies: 10_000, keepBodyBytes: 4 * 1024 * 1024 })
  t.teardown(() => out.stop())
  const sandbox = await startSandbox(t, {
    functionDir: fn('prints-lines'),
    extensionsDir: extensionsDir(t, [extension]),
    env: { SINK_URL: out.url, ...env },
    // The test's own sink, on the host: reached from a bwrap sandbox's own network through this.
    hostPorts: [Number(new URL(out.url).port)],
    ...options,
  }, hooks)
  t.equal(sandbox.record.init?.status, 'success', 'Init succeeded')
  return { sandbox, out }
}

t.test('batches of maxItems, platform and function records in order, all before SHUTDOWN (frozen between invokes)', async (t) => {
  const { sandbox, out } = await bootWith(
    t,
    'telemetry-recorder',
    // timeoutMs at its maximum: batches go out only when full, or in Managed Instances' flush before SHUTDOWN.
    { TELEMETRY_BUFFERING: '{"maxItems": 1000, "timeoutMs": 30000}' },
    { freeze: true, telemetry: { flushBeforeShutdown: true } },
  )
  const first = await sandbox.invoke({ lines: 2500, tag: 'first' })
  const second = await sandbox.invoke({ lines: 3, tag: 'second' })
  await sandbox.shutdown()
  const written = readOut(out)
  const batches = written.filter((w) => w.batch !== undefined).map((w) => w.batch as TelemetryEvent[])
  t.same(written.at(-1), { shutdown: 'spindown' }, 'SHUTDOWN came after every batch')
  t.same(batches.slice(0, 2).map((b) => b.length), [1000, 1000], 'full batches of maxItems went out during the invoke')
  t.ok(batches.every((b) => b.length <= 1000), 'no batch over maxItems')
  const events = batches.flat()
  const lines = events.filter((e) => e.type === 'function').map((e) => e.record)
  t.same(lines, [...Array.from({ length: 2500 }, (_, i) => `first ${i}\n`), 'second 0\n', 'second 1\n', 'second 2\n'], 'every line, in order, with its "\\n"')
  const platform = events.filter((e) => e.type.startsWith('platform.')).map((e) => e.type)
  t.same(platform, [
    'platform.initStart',
    'platform.telemetrySubscription',
    'platform.initRuntimeDone',
    'platform.extension',
    'platform.initReport',
    'platform.start',
    'platform.runtimeDone',
    'platform.report',
    'platform.start',
    'platform.runtimeDone',
    'platform.report',
  ])
  const reports = events.filter((e) => e.type === 'platform.report').map((e) => e.record as Record<string, unknown>)
  t.match(reports[0], { requestId: first.requestId, status: 'success', metrics: { durationMs: Number, billedDurationMs: Number, memorySizeMB: 128, maxMemoryUsedMB: Number, initDurationMs: Number } })
  t.notOk('initDurationMs' in (reports[1]?.metrics as object), 'initDurationMs only after the cold Init')
  t.match(events.find((e) => e.type === 'platform.runtimeDone')?.record, { requestId: first.requestId, status: 'success', metrics: { durationMs: Number, producedBytes: 17 } })
  t.match(events.find((e) => e.type === 'platform.start' && (e.record as { requestId: string }).requestId === second.requestId)?.record, {
    version: '$LATEST',
    tracing: { type: 'X-Amzn-Trace-Id', value: /^Root=1-/ },
  })
  const delivery = written.find((w) => w.batch !== undefined)
  t.match(delivery, { host: /^sandbox\.localdomain:\d+$/, path: '/telemetry', sequenceId: /^[A-Za-z0-9+/]{43}=$/ }, 'Host as subscribed, the URI\'s path, a Sequence-Id')
  const stats = subscriberOf(sandbox.record, 'telemetry-recorder')
  t.match(stats, { records: events.length, delivered: events.length, batches: batches.length, retries: 0, dropped: 0, lost: 0 })
  t.ok(sandbox.record.verdict.clean, 'clean')
})

t.test('TCP: NDJSON on a socket', async (t) => {
  const { sandbox, out } = await bootWith(t, 'telemetry-recorder', { TELEMETRY_PROTOCOL: 'TCP', TELEMETRY_TYPES: 'function' })
  await sandbox.invoke({ lines: 50, tag: 'tcp' })
  await sandbox.shutdown()
  const written = readOut(out)
  t.ok(written.filter((w) => w.batch !== undefined).every((w) => w.tcp === true && w.batch?.length === 1), 'one event per line')
  t.same(
    written.flatMap((w) => w.batch ?? []).map((e) => e.record),
    Array.from({ length: 50 }, (_, i) => `tcp ${i}\n`),
  )
  t.match(subscriberOf(sandbox.record, 'telemetry-recorder'), { destination: /^TCP sandbox\.localdomain:\d+$/, delivered: 50, lost: 0 })
})

t.test('a destination that fails at first: retries, a drop, then platform.logsDropped with the rest', async (t) => {
  const { sandbox, out } = await bootWith(t, 'telemetry-recorder', { TELEMETRY_FAIL_FIRST: '2', TELEMETRY_TYPES: 'platform,function' }, { telemetry: { retries: 1, retryBackoffMs: 10, flushBeforeShutdown: true } })
  await sandbox.invoke({ lines: 5, tag: 'after' })
  await sandbox.shutdown()
  const written = readOut(out)
  const rejected = written.filter((w) => w.rejected !== undefined).map((w) => w.rejected as TelemetryEvent[])
  t.equal(rejected.length, 2, 'the first attempt and one retry were answered 500')
  t.same(rejected[0], rejected[1], 'the retry sent the same batch')
  const events = written.flatMap((w) => w.batch ?? [])
  const dropped = events.find((e) => e.type === 'platform.logsDropped')
  t.match(dropped?.record, {
    droppedRecords: rejected[0]?.length,
    droppedBytes: Number,
    reason: /^could not send events: http request failed with status 500/,
  })
  t.same(events.filter((e) => e.type === 'function').map((e) => e.record), Array.from({ length: 5 }, (_, i) => `after ${i}\n`), 'what came later arrived')
  const stats = subscriberOf(sandbox.record, 'telemetry-recorder')
  t.match(stats, { retries: 1, dropped: rejected[0]?.length, lost: 0 })
  t.same(sandbox.record.verdict.problems.map((p) => p.code), ['telemetry-dropped'])
})

t.test('a subscriber that never answers stalls nothing, and what it was owed is in the verdict', async (t) => {
  let retried!: () => void
  const firstRetry = new Promise<void>((resolve) => (retried = resolve))
  const onTimeline = (entry: TimelineEntry) => /^telemetry: delivery failed .*; retry \d+ in/.test(entry.detail) && retried()
  const { sandbox } = await bootWith(t, 'telemetry-never-answers', { TELEMETRY_TYPES: 'platform,function' }, { telemetry: { requestTimeoutMs: 100, retries: 1, retryBackoffMs: 10 } }, { onTimeline })
  for (let i = 0; i < 3; i++) {
    const result = await sandbox.invoke({ lines: 200 })
    t.equal(result.status, 'success')
    t.ok(result.durationMs < 1500, `invoke ${i + 1} took ${result.durationMs.toFixed(0)} ms: delivery never held it up`)
  }
  // The first request times out 100 ms after it went out: on a quiet machine the invokes are done sooner.
  t.ok(await withDeadline(firstRetry, 5000), 'a delivery timed out and was retried before SHUTDOWN')
  const shutdown = await sandbox.shutdown()
  // Nothing waits for its deliveries; the extension exits on SHUTDOWN.
  t.ok(shutdown.durationMs < 1800, `Shutdown took ${shutdown.durationMs.toFixed(0)} ms`)
  t.same(shutdown.extensions[0]?.exit, { code: 0, signal: null }, 'and the extension exited on its own')
  const stats = subscriberOf(sandbox.record, 'telemetry-never-answers')
  t.equal(stats.delivered, 0)
  t.ok(stats.retries > 0, `${stats.retries} retries`)
  t.ok(stats.dropped + stats.lost > 0, `${stats.dropped} dropped, ${stats.lost} lost`)
  t.equal(stats.records, stats.delivered + stats.dropped + stats.lost + stats.unsentAtExit, 'every record accounted for')
  const codes = sandbox.record.verdict.problems.map((p) => p.code)
  t.ok(stats.dropped === 0 || codes.includes('telemetry-dropped'), 'telemetry-dropped when records were given up on')
  t.ok(stats.lost === 0 || codes.includes('telemetry-lost'), 'telemetry-lost when records were still owed at exit')
  // A destination that never answers does not hold SHUTDOWN back.
  const runtimeExit = sandbox.record.timeline.find((e) => e.process === 'runtime' && e.kind === 'exit')
  const shutdownEvent = sandbox.record.timeline.find((e) => e.kind === 'event' && e.detail.startsWith('SHUTDOWN'))
  const gapMs = (shutdownEvent?.atMs ?? Infinity) - (runtimeExit?.atMs ?? 0)
  t.ok(gapMs <= 1000 + 250, `SHUTDOWN went out ${gapMs.toFixed(0)} ms after the runtime exited`)
})
