// Telemetry API 2022-07-01 and Logs API 2020-08-15 over real HTTP (LAMBDA-SPEC §4): the test plays
// the extension named after its (idle) file and receives deliveries on a sink on 127.0.0.1,
// addressed as http://sandbox.localdomain:<port>.
import t, { type Test } from 'tap'
import { SinkProbe, type RunningSink } from '../../harness/probes/sink.js'
import type { TelemetryResources } from '../../harness/record/run-record.js'
import type { TelemetryEvent } from '../../harness/telemetry/events.js'
import { extensionsDir } from '../helpers.js'
import { bootDriven, type Driver, type Reply } from '../api/driver.js'

const EXT = '/2020-01-01/extension'
const TELEMETRY = '/2022-07-01/telemetry'
const LOGS = '/2020-08-15/logs'
const NEXT = '/2018-06-01/runtime/invocation/next'

async function startSink(t: Test): Promise<RunningSink> {
  const sink = await SinkProbe.start({ keepBodies: 1000, keepBodyBytes: 1024 * 1024 })
  t.teardown(() => sink.stop())
  return sink
}

function subscription(sink: RunningSink, overrides: Record<string, unknown> = {}): string {
  const port = new URL(sink.url).port
  return JSON.stringify({
    schemaVersion: '2022-12-13',
    types: ['platform', 'function', 'extension'],
    buffering: { timeoutMs: 25 },
    destination: { protocol: 'HTTP', URI: `http://sandbox.localdomain:${port}/telemetry` },
    ...overrides,
  })
}

function events(sink: RunningSink): TelemetryEvent[] {
  return sink.received().bodies.flatMap((body) => JSON.parse(body) as TelemetryEvent[])
}

async function waitForEvent(sink: RunningSink, type: string): Promise<TelemetryEvent[]> {
  await sink.waitFor((received) => received.bodies.some((body) => body.includes(`"type":"${type}"`)), 10_000)
  return events(sink)
}

/** Registers as the idle extension and leaves its /event/next and the runtime's /next pending. */
async function register(d: Driver, events: string[] = ['INVOKE']): Promise<string> {
  const registered = await d.call('POST', `${EXT}/register`, { headers: { 'lambda-extension-name': 'idle' }, body: JSON.stringify({ events }) })
  return registered.headers['lambda-extension-identifier'] as string
}

function put(d: Driver, path: string, id: string | undefined, body: string): Promise<Reply> {
  return d.call('PUT', path, { headers: id === undefined ? {} : { 'lambda-extension-identifier': id }, body })
}

t.test('subscribe: 200 "OK"; identifier, validation, duplicate and cross-API errors; 403 after Init', async (t) => {
  const sink = await startSink(t)
  const replies: Record<string, Reply> = {}
  let id = ''
  const { driver, sandbox } = await bootDriven(t, { extensionsDir: extensionsDir(t, ['idle']) }, async (d) => {
    id = await register(d)
    replies.missing = await put(d, TELEMETRY, undefined, subscription(sink))
    replies.invalid = await put(d, TELEMETRY, 'xyz', subscription(sink))
    replies.unknown = await put(d, TELEMETRY, '00000000-0000-4000-8000-000000000000', subscription(sink))
    replies.get = await d.call('GET', TELEMETRY, { headers: { 'lambda-extension-identifier': id } })
    replies.nowhere = await put(d, '/2022-07-01/elsewhere', id, subscription(sink))
    replies.validation = await put(d, TELEMETRY, id, subscription(sink, { types: [], destination: { protocol: 'HTTP', URI: 'http://sandbox.localdomain/x' } }))
    replies.logsValidation = await put(d, LOGS, id, subscription(sink, { schemaVersion: undefined, buffering: { maxItems: 5 } }))
    replies.host = await put(d, TELEMETRY, id, subscription(sink, { destination: { protocol: 'HTTP', URI: 'http://example.com:80/' } }))
    replies.ok = await put(d, TELEMETRY, id, subscription(sink))
    replies.again = await put(d, TELEMETRY, id, subscription(sink))
    replies.crossApi = await put(d, `${LOGS}/`, id, subscription(sink, { schemaVersion: '2021-03-18' }))
    d.pending('GET', `${EXT}/event/next`, { 'lambda-extension-identifier': id })
    d.pending('GET', NEXT)
  })
  t.same([replies.missing?.status, replies.missing?.json], [403, { errorMessage: 'Missing Lambda-Extension-Identifier header', errorType: 'Extension.MissingExtensionIdentifier' }])
  t.same([replies.invalid?.status, replies.invalid?.json], [403, { errorMessage: 'Invalid Lambda-Extension-Identifier', errorType: 'Extension.InvalidExtensionIdentifier' }])
  t.same(replies.unknown?.json, { errorMessage: 'Unknown extension 00000000-0000-4000-8000-000000000000', errorType: 'Extension.UnknownExtensionIdentifier' })
  t.equal(replies.get?.status, 405)
  t.equal(replies.get?.headers.allow, 'PUT')
  t.equal(replies.nowhere?.status, 404)
  t.equal(replies.validation?.status, 400)
  t.equal(replies.validation?.text, '{"errorMessage":"URI port is not provided; types should not be empty","errorType":"ValidationError"}\n', 'Lambda\'s own example, byte for byte')
  t.same(replies.logsValidation?.json, { errorMessage: 'maxItems should be an integer between 1000 and 10000', errorType: 'Logs.ValidationError' })
  t.same(replies.host?.json, { errorMessage: 'URI host should be sandbox.localdomain (got "example.com")', errorType: 'ValidationError' }, 'no other host is ever contacted')
  t.equal(replies.ok?.status, 200)
  t.equal(replies.ok?.text, '"OK"', 'a JSON string')
  t.equal(replies.ok?.headers['content-type'], 'application/json')
  t.same([replies.again?.status, replies.again?.json], [500, { errorMessage: 'Internal Server Error', errorType: 'InternalServerError' }], 'a second Telemetry subscription: RIE\'s 500')
  t.equal(replies.crossApi?.status, 400)
  t.match(replies.crossApi?.json, { errorType: 'Logs.ValidationError', errorMessage: /already subscribed to the Telemetry API/ })

  const closed = await put(driver, TELEMETRY, id, subscription(sink))
  t.same([closed.status, closed.json], [403, { errorMessage: 'Telemetry API subscription is closed', errorType: 'Telemetry.SubscriptionClosed' }])
  const closedLogs = await put(driver, LOGS, id, subscription(sink, { schemaVersion: '2020-08-15' }))
  t.same([closedLogs.status, closedLogs.json], [403, { errorMessage: 'Logs API subscription is closed', errorType: 'Logs.SubscriptionClosed' }])
  const stillValidated = await put(driver, TELEMETRY, id, subscription(sink, { types: ['logs'] }))
  t.equal(stillValidated.status, 400, 'after Init a malformed body is still a 400 (RIE validates first)')

  const subscribers = (sandbox.record.resources.telemetry as TelemetryResources).subscribers
  t.equal(subscribers.length, 1, 'one subscription came out of all that')
  t.match(subscribers[0], { name: 'idle', api: 'telemetry', types: ['platform', 'function', 'extension'], buffering: { maxItems: 1000, maxBytes: 262144, timeoutMs: 25 } })
  t.match(subscribers[0]?.destination, /^HTTP http:\/\/sandbox\.localdomain:\d+\/telemetry$/)
  const calls = sandbox.record.timeline.filter((e) => e.kind === 'api' && e.detail.startsWith('PUT')).map((e) => e.detail)
  t.ok(calls.some((c) => c.includes('PUT /2022-07-01/telemetry → 403 Telemetry.SubscriptionClosed')), 'API calls are in the timeline')
})

t.test('a late subscriber gets Init\'s earlier events replayed, then the rest, in order', async (t) => {
  const sink = await startSink(t)
  const { sandbox } = await bootDriven(t, { extensionsDir: extensionsDir(t, ['idle']), functionName: 'late-fn' }, async (d) => {
    const id = await register(d)
    const reply = await put(d, TELEMETRY, id, subscription(sink))
    t.equal(reply.status, 200)
    d.pending('GET', `${EXT}/event/next`, { 'lambda-extension-identifier': id })
    d.pending('GET', NEXT)
  })
  const received = (await waitForEvent(sink, 'platform.initReport')).filter((e) => e.type.startsWith('platform.'))
  t.same(
    received.map((e) => e.type),
    ['platform.initStart', 'platform.telemetrySubscription', 'platform.initRuntimeDone', 'platform.extension', 'platform.initReport'],
  )
  const [initStart, subscribed] = received
  t.match(initStart, {
    time: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
    record: { initializationType: 'on-demand', phase: 'init', functionName: 'late-fn', functionVersion: '$LATEST', runtimeVersion: 'python:3.12.v0' },
  })
  t.ok(Date.parse(initStart?.time ?? '') <= Date.parse(subscribed?.time ?? ''), 'initStart happened before the subscription: it was replayed')
  t.same(subscribed?.record, { name: 'idle', state: 'Subscribed', types: ['platform', 'function', 'extension'] })
  t.match(received[3]?.record, { name: 'idle', state: 'Ready', events: ['INVOKE'] })
  t.match(received[4]?.record, { phase: 'init', status: 'success', metrics: { durationMs: Number } })
  t.ok(sandbox.record.logs.includes('TELEMETRY\tName: idle\tState: Subscribed\tTypes: [Platform, Function, Extension]'))
})

t.test('the Logs API: idempotent, its own record shapes, runtimeDone from 2021-03-18', async (t) => {
  const sink = await startSink(t)
  let id = ''
  let runtimeNext: Promise<Reply> | undefined
  let extensionNext: Promise<Reply> | undefined
  const { sandbox, driver } = await bootDriven(t, { extensionsDir: extensionsDir(t, ['idle']) }, async (d) => {
    id = await register(d)
    const body = subscription(sink, { schemaVersion: '2021-03-18', types: ['platform', 'function'] })
    t.equal((await put(d, LOGS, id, body)).text, '"OK"')
    t.equal((await put(d, LOGS, id, body)).text, '"OK"', 'the same subscription again is fine')
    extensionNext = d.pending('GET', `${EXT}/event/next`, { 'lambda-extension-identifier': id })
    runtimeNext = d.pending('GET', NEXT)
  })
  // Play one invoke through: the runtime answers, calls next; the extension calls next.
  const invoking = sandbox.invoke({ hello: 1 })
  const requestId = (await runtimeNext)?.headers['lambda-runtime-aws-request-id'] as string
  await extensionNext
  await driver.call('POST', `/2018-06-01/runtime/invocation/${requestId}/response`, { body: '"done"' })
  driver.pending('GET', NEXT)
  driver.pending('GET', `${EXT}/event/next`, { 'lambda-extension-identifier': id })
  t.equal((await invoking).status, 'success')
  const received = await waitForEvent(sink, 'platform.report')
  t.same(
    received.map((e) => e.type),
    ['platform.logsSubscription', 'platform.extension', 'platform.start', 'platform.runtimeDone', 'platform.end', 'platform.report'],
    'no init events; one subscription despite two requests; end before report',
  )
  const byType = Object.fromEntries(received.map((e) => [e.type, e.record]))
  t.same(byType['platform.logsSubscription'], { name: 'idle', state: 'Subscribed', types: ['platform', 'function'] })
  t.same(byType['platform.start'], { requestId, version: '$LATEST' })
  t.same(byType['platform.runtimeDone'], { requestId, status: 'success' })
  t.same(byType['platform.end'], { requestId })
  t.match(byType['platform.report'], { requestId, metrics: { durationMs: Number, billedDurationMs: Number, memorySizeMB: 128, maxMemoryUsedMB: Number } })
  t.notOk('status' in (byType['platform.report'] as object), 'Logs API report records carry no status')
  t.ok(sandbox.record.logs.includes('LOGS\tName: idle\tState: Subscribed\tTypes: [Platform, Function]'))
  t.equal((sandbox.record.resources.telemetry as TelemetryResources).subscribers.length, 1)
})
