// A seeded fuzz of every API surface against a live sandbox (issue 7, Hardening 1). Each request's
// expected answer comes from the oracle in fuzz-requests.ts (LAMBDA-SPEC §1–4); every answer must
// match it, no request may go unanswered and unclosed, and afterwards the sandbox still invokes and
// shuts down cleanly with nothing it recorded before the fuzz lost.
//
// Why the fuzz cannot legitimately disturb the sandbox: the test plays the runtime (bootDriven) and
// two internal extensions, so it knows every request id and identifier the oracle may use and the
// state each is in. Batches run only in two held states: between invokes (the runtime parked on
// /next, every extension parked on /event/next) and during an invoke the test holds open (the
// runtime has the event and has not answered). The generator never sends what the spec would
// accept with a side effect there (an answer for the held invoke, exit/error with a live
// identifier, /event/next of an extension holding an event); it rewrites each into its refused
// neighbour. A real external extension (well-behaved) runs throughout: its identifier is never
// known to the fuzz, and its clean exit at Shutdown shows nothing reached it.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { extensionsDir } from '../helpers.js'
import { bootDriven, type Reply } from './driver.js'
import { Rng, errorTypeOf, generate, judge, send, type FuzzRequest, type KnownExtension, type World } from './fuzz-requests.js'

const SEED = Number(process.env.LH_FUZZ_SEED ?? 7_2026_11)
const REQUESTS = Number(process.env.LH_FUZZ_REQUESTS ?? 2400)
const ROUNDS = 4
const CONCURRENCY = 8
/** One request in this many carries a body at or past the 6 MB response limit. */
const BIG_EVERY = 200
/** Per request: an answer or a close within this, or the server hangs (generous: a loaded box). */
const DEADLINE_MS = 15_000

const NEXT = '/2018-06-01/runtime/invocation/next'
const EXT = '/2020-01-01/extension'

interface Tally {
  tried: number
  rewritten: number
  byOutcome: Map<string, number>
  bySurface: Map<string, number>
  /** Outcomes of the drip-fed and truncated requests. */
  byDelivery: Map<string, number>
  failures: string[]
  slowestMs: number
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1)
}

/** Generates `count` requests in seed order, then sends them a few at a time. */
async function batch(address: string, rng: Rng, world: World, count: number, tally: Tally): Promise<void> {
  const requests: { request: FuzzRequest; surface: string; index: number }[] = []
  for (let i = 0; i < count; i++) {
    const index = tally.tried + i
    const generated = generate(rng, world, index % BIG_EVERY === BIG_EVERY - 1)
    requests.push({ ...generated, index })
  }
  tally.tried += count
  let next = 0
  const worker = async () => {
    while (next < requests.length) {
      const { request, surface, index } = requests[next++]!
      const observed = await send(address, request, DEADLINE_MS)
      tally.slowestMs = Math.max(tally.slowestMs, observed.ms)
      bump(tally.bySurface, surface)
      const outcome = observed.kind === 'answer' ? String(observed.status) : observed.kind
      bump(tally.byOutcome, outcome)
      if (request.delivery.kind !== 'whole') {
        bump(tally.byDelivery, `${request.delivery.kind}:${outcome}`)
      }
      if (request.rewritten !== undefined) {
        tally.rewritten++
      }
      const problem = judge(request, observed)
      if (problem !== undefined) {
        tally.failures.push(`#${index} [${world.phase}] ${request.label} ${request.method} ${request.target.slice(0, 120)}: ${problem}`)
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
}

t.test(`seeded fuzz of the Runtime, Extensions, Telemetry and Logs APIs`, async (t) => {
  t.comment(`seed ${SEED} (replay with LH_FUZZ_SEED=${SEED}), ${REQUESTS} requests`)
  const started = performance.now()
  const internals: { name: string; events: string[]; id?: string; pending?: Promise<Reply> }[] = [
    { name: 'fuzz-invoke-only', events: ['INVOKE'] },
    { name: 'fuzz-no-events', events: [] },
  ]
  let runtimeNext!: Promise<Reply>
  const { sandbox, driver } = await bootDriven(t, { extensionsDir: extensionsDir(t, ['well-behaved']), functionName: 'fuzz-fn', timeoutSec: 300 }, async (d) => {
    // Internal extensions register before the runtime's first /next closes registration.
    for (const internal of internals) {
      const reply = await d.call('POST', `${EXT}/register`, { headers: { 'lambda-extension-name': internal.name }, body: JSON.stringify({ events: internal.events }) })
      internal.id = reply.headers['lambda-extension-identifier'] as string
      internal.pending = d.pending('GET', `${EXT}/event/next`, { 'lambda-extension-identifier': internal.id })
    }
    runtimeNext = d.pending('GET', NEXT)
  })
  t.equal(sandbox.record.init?.status, 'success', 'Init succeeded')
  const address = driver.base.slice('http://'.length)
  const [invokeOnly, noEvents] = internals as [Required<(typeof internals)[0]>, Required<(typeof internals)[0]>]
  const known = (invokeOnlyState: KnownExtension['state']): KnownExtension[] => [
    { id: invokeOnly.id, name: invokeOnly.name, state: invokeOnlyState },
    { id: noEvents.id, name: noEvents.name, state: 'Ready' },
  ]

  const before = sandbox.record
  const rng = new Rng(SEED)
  const tally: Tally = { tried: 0, rewritten: 0, byOutcome: new Map(), bySurface: new Map(), byDelivery: new Map(), failures: [], slowestMs: 0 }
  const perBatch = Math.ceil(REQUESTS / (ROUNDS * 2))
  const requestIds: string[] = []
  const invocations = []

  for (let round = 0; round < ROUNDS; round++) {
    const current = requestIds.at(-1)
    const idle: World = { phase: 'idle', currentRequestId: current, staleRequestIds: requestIds.slice(0, -1), extensions: known('Ready'), externalNames: ['well-behaved'] }
    await batch(address, rng, idle, perBatch, tally)

    const invoking = sandbox.invoke({ round })
    const event = await runtimeNext
    const requestId = event.headers['lambda-runtime-aws-request-id'] as string
    const extensionEvent = await invokeOnly.pending
    t.match(extensionEvent.json, { eventType: 'INVOKE', requestId }, `round ${round}: the internal extension got the INVOKE`)
    const held: World = { phase: 'invoking', currentRequestId: requestId, staleRequestIds: [...requestIds], extensions: known('Running'), externalNames: ['well-behaved'] }
    await batch(address, rng, held, perBatch, tally)

    const posted = await driver.call('POST', `/2018-06-01/runtime/invocation/${requestId}/response`, { body: JSON.stringify({ round }) })
    t.equal(posted.status, 202, `round ${round}: the held invoke's answer is still taken after the fuzz`)
    runtimeNext = driver.pending('GET', NEXT)
    invokeOnly.pending = driver.pending('GET', `${EXT}/event/next`, { 'lambda-extension-identifier': invokeOnly.id })
    const result = await invoking
    t.match(result, { status: 'success', requestId, response: JSON.stringify({ round }) }, `round ${round}: the invoke completed`)
    invocations.push(result)
    requestIds.push(requestId)
  }

  t.comment(`tried ${tally.tried} requests in ${((performance.now() - started) / 1000).toFixed(1)} s (slowest ${tally.slowestMs.toFixed(0)} ms), ${tally.rewritten} rewritten away from side effects`)
  t.comment(`by outcome: ${[...tally.byOutcome].sort().map(([k, v]) => `${k}=${v}`).join(' ')}`)
  t.comment(`by surface: ${[...tally.bySurface].sort().map(([k, v]) => `${k}=${v}`).join(' ')}`)
  t.comment(`slow and cut bodies: ${[...tally.byDelivery].sort().map(([k, v]) => `${k}=${v}`).join(' ')}`)
  t.equal(tally.failures.length, 0, `every answer matches the oracle (${tally.failures.length} did not)`)
  for (const failure of tally.failures.slice(0, 25)) {
    t.comment(failure)
  }
  t.notOk(tally.byOutcome.has('timeout'), 'every request got an answer or a close')

  // Nothing recorded before the fuzz was lost or rewritten.
  const after = sandbox.record
  // The snapshot sorts by atMs and a long poll is recorded when it is answered, so entries may come
  // in between; every earlier entry must still be there, unchanged.
  const kept = new Map<string, number>()
  for (const entry of after.timeline) {
    bump(kept, JSON.stringify(entry))
  }
  const lost = before.timeline.filter((entry) => {
    const key = JSON.stringify(entry)
    const left = kept.get(key) ?? 0
    kept.set(key, left - 1)
    return left <= 0
  })
  t.same(lost, [], `all ${before.timeline.length} timeline entries from before the fuzz are intact`)
  t.same(after.invocations, invocations, 'exactly the test\'s invocations, as returned')
  t.ok(after.timeline.length > before.timeline.length + tally.tried / 2, 'the fuzz calls are on the timeline too')

  // Still serving: a plain invoke, then a clean Shutdown.
  const last = sandbox.invoke({ after: 'fuzz' })
  const event = await runtimeNext
  t.same(event.json, { after: 'fuzz' })
  const lastId = event.headers['lambda-runtime-aws-request-id'] as string
  await invokeOnly.pending
  t.equal((await driver.call('POST', `/2018-06-01/runtime/invocation/${lastId}/response`, { body: '"ok"' })).status, 202)
  driver.pending('GET', NEXT)
  driver.pending('GET', `${EXT}/event/next`, { 'lambda-extension-identifier': invokeOnly.id })
  t.match(await last, { status: 'success', response: '"ok"' })
  const shutdown = await sandbox.shutdown()
  const external = shutdown.extensions.find((e) => e.name === 'well-behaved')
  t.match(external, { exit: { code: 0, signal: null }, killed: false }, 'the real extension exited by itself after SHUTDOWN')
  t.match(external?.events.map((e) => e.eventType), ['INVOKE', 'INVOKE', 'INVOKE', 'INVOKE', 'INVOKE', 'SHUTDOWN'], 'and saw exactly the real events')
  t.same(sandbox.record.invocations.slice(0, invocations.length), invocations, 'the invocations are still there after Shutdown')
})

// The fuzz's first findings, pinned so they hold whatever the seed draws.
t.test('what the fuzz found: repeated headers, the request id first, slow bodies on early refusals', async (t) => {
  let extId = ''
  const { sandbox, driver } = await bootDriven(t, {}, async (d) => {
    const reply = await d.call('POST', `${EXT}/register`, { headers: { 'lambda-extension-name': 'pinned' }, body: '{"events":[]}' })
    extId = reply.headers['lambda-extension-identifier'] as string
    d.pending('GET', `${EXT}/event/next`, { 'lambda-extension-identifier': extId })
    d.pending('GET', NEXT)
  })
  const address = driver.base.slice('http://'.length)
  const raw = (request: Omit<FuzzRequest, 'delivery' | 'label'>, delivery: FuzzRequest['delivery'] = { kind: 'whole' }) =>
    send(address, { ...request, label: 'pinned', delivery }, DEADLINE_MS)
  const errorType = errorTypeOf

  // Go's Header.Get reads the first of repeated headers; Node's req.headers joined them.
  const repeated = await raw({
    method: 'GET',
    target: `${EXT}/event/next`,
    headers: [['Lambda-Extension-Identifier', extId], ['Lambda-Extension-Identifier', 'garbage']],
    body: Buffer.alloc(0),
    expected: { kind: 'parser' },
  })
  t.equal(errorType(repeated.body), 'Extension.InvalidExtensionState', 'the first identifier is the one used (a second /event/next of a Ready extension)')

  // RAPID's AwsRequestIDValidator runs before the handler: a wrong id wins over a bad mode or size.
  const badMode = await raw({ method: 'POST', target: `/2018-06-01/runtime/invocation/${randomUUID()}/response`, headers: [['Lambda-Runtime-Function-Response-Mode', 'buffered']], body: Buffer.from('1'), expected: { kind: 'parser' } })
  t.match(badMode, { status: 400 })
  t.equal(errorType(badMode.body), 'InvalidRequestID')
  const hugeError = await raw({ method: 'POST', target: `/2018-06-01/runtime/invocation/${randomUUID()}/error`, headers: [], body: Buffer.alloc(6 * 1024 * 1024 + 101, 97), expected: { kind: 'parser' } })
  t.match(hugeError, { status: 400 })
  t.equal(errorType(hugeError.body), 'InvalidRequestID')

  // A refused identifier with a slow 1 MB body: the answer arrived before the body, and the
  // connection closed under the client, which saw EPIPE instead of the 403.
  const slow = await raw(
    { method: 'PUT', target: '/2022-07-01/telemetry', headers: [['Lambda-Extension-Identifier', randomUUID()]], body: Buffer.alloc(1024 * 1024, 32), expected: { kind: 'parser' } },
    { kind: 'drip', pieces: 8, pauseMs: 5 },
  )
  t.match(slow, { kind: 'answer', status: 403 })
  t.equal(errorType(slow.body), 'Extension.UnknownExtensionIdentifier')
  t.equal(sandbox.record.init?.status, 'success')
})
