// One subscription's buffering and delivery against a fake transport: batches by maxItems, maxBytes
// and timeoutMs; one batch in flight; retries with backoff, then a drop reported with
// platform.logsDropped; a bounded buffer; what is owed when its process ends; freeze pauses.
import t from 'tap'
import { isRejection } from '../../harness/lifecycle/error-types.js'
import type { TelemetryEvent } from '../../harness/telemetry/events.js'
import { Subscriber, SLOW_CONSUMER_REASON, type DeliveryOptions, type PauseGate } from '../../harness/telemetry/subscriber.js'
import { parseSubscription, type Subscription } from '../../harness/telemetry/subscription.js'
import type { Transport } from '../../harness/telemetry/transport.js'

const OPTIONS: DeliveryOptions = { retries: 2, retryBackoffMs: 1, requestTimeoutMs: 1000, maxQueueBytes: 8 * 1024 * 1024 }

function subscriptionOf(buffering: Record<string, number>, types = ['platform', 'function'], api: 'telemetry' | 'logs' = 'telemetry'): Subscription {
  const parsed = parseSubscription(
    api,
    Buffer.from(JSON.stringify({ schemaVersion: api === 'telemetry' ? '2022-12-13' : '2021-03-18', types, buffering, destination: { protocol: 'HTTP', URI: 'http://sandbox.localdomain:1/' } })),
    { maxItems: 1000 },
  )
  if (isRejection(parsed)) {
    throw new Error(parsed.errorMessage)
  }
  return parsed
}

/** Records batches; `answer` decides each attempt: resolve, reject, or never (until aborted). */
class FakeTransport implements Transport {
  readonly description = 'HTTP fake'
  readonly batches: TelemetryEvent[][] = []
  attempts = 0
  answer: (attempt: number) => 'ok' | 'fail' | 'hang' = () => 'ok'
  #waiters: { count: number; resolve: () => void }[] = []

  send(events: readonly string[], signal: AbortSignal): Promise<void> {
    const attempt = ++this.attempts
    const verdict = this.answer(attempt)
    if (verdict === 'ok') {
      this.batches.push(events.map((e) => JSON.parse(e) as TelemetryEvent))
      for (const waiter of this.#waiters.filter((w) => this.batches.length >= w.count)) {
        waiter.resolve()
      }
      return Promise.resolve()
    }
    if (verdict === 'fail') {
      return Promise.reject(new Error('http request failed with status 500: no'))
    }
    return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))
  }

  close(): void {}

  /** Resolves once `count` batches have been delivered (or fails the test after 5 s). */
  delivered(count: number): Promise<void> {
    if (this.batches.length >= count) {
      return Promise.resolve()
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${this.batches.length} of ${count} batches`)), 5000)
      this.#waiters.push({ count, resolve: () => (clearTimeout(timer), resolve()) })
    })
  }
}

class FakeGate implements PauseGate {
  paused = false
  epoch = 0
  #waiters: (() => void)[] = []
  resumed(): Promise<void> {
    return this.paused ? new Promise((resolve) => this.#waiters.push(resolve)) : Promise.resolve()
  }
  resume(): void {
    this.paused = false
    this.#waiters.splice(0).forEach((resolve) => resolve())
  }
}

function setup(buffering: Record<string, number>, options: Partial<DeliveryOptions> = {}, types?: string[], api?: 'telemetry' | 'logs') {
  const transport = new FakeTransport()
  const gate = new FakeGate()
  const timeline: string[] = []
  const subscriber = new Subscriber(
    { name: 'ext', external: true },
    subscriptionOf(buffering, types, api),
    transport,
    { ...OPTIONS, ...options },
    {
      now: () => 0,
      timeline: (detail) => timeline.push(detail),
      gate,
      droppedEvent: (droppedRecords, droppedBytes, reason) => ({ time: 'T', type: 'platform.logsDropped', record: { droppedBytes, droppedRecords, reason } }),
    },
    0,
  )
  let seq = 0
  const offer = (count: number, text = 'line') => {
    for (let i = 0; i < count; i++) {
      subscriber.offer({ time: 'T', type: 'function', record: `${text} ${i}\n` }, ++seq)
    }
  }
  return { transport, gate, timeline, subscriber, offer, seq: () => seq }
}

t.test('maxItems: full batches go at once, the rest waits for timeoutMs or a drain', async (t) => {
  const { transport, subscriber, offer } = setup({ maxItems: 1000, timeoutMs: 30000 })
  offer(2500)
  await transport.delivered(2)
  t.same(transport.batches.map((b) => b.length), [1000, 1000])
  t.equal(transport.batches[1]?.[0]?.record, 'line 1000\n', 'in order')
  await subscriber.drain()
  t.same(transport.batches.map((b) => b.length), [1000, 1000, 500], 'the drain sends the remainder without waiting 30 s')
  t.match(subscriber.record, { records: 2500, delivered: 2500, batches: 3, retries: 0, dropped: 0, lost: 0 })
})

t.test('a drain sends a snapshot: records offered meanwhile keep to their buffering, not one batch each', async (t) => {
  const { transport, subscriber, offer } = setup({ maxItems: 1000, timeoutMs: 30000 })
  // Like an extension that logs a line per delivery: every batch it takes makes a new record.
  let echoes = 0
  const send = transport.send.bind(transport)
  transport.send = (events, signal) => {
    const sent = send(events, signal)
    if (echoes < 100) {
      echoes++
      offer(1, 'echo')
    }
    return sent
  }
  offer(3)
  await subscriber.drain()
  t.same(transport.batches.map((b) => b.length), [3], 'one batch: the three records buffered when the drain began')
  t.equal(subscriber.record.records, 4, 'the echo of that delivery waits for its own batch')
  t.equal(subscriber.record.delivered, 3)
})

t.test('maxBytes: a batch closes once it reaches maxBytes (so it may pass it by one record)', async (t) => {
  const { transport, subscriber, offer } = setup({ maxItems: 10000, maxBytes: 262144, timeoutMs: 30000 })
  offer(600, 'x'.repeat(1000))
  await subscriber.drain()
  const sizes = transport.batches.map((batch) => batch.reduce((sum, e) => sum + Buffer.byteLength(JSON.stringify(e)), 0))
  t.ok(transport.batches.length >= 3, `${transport.batches.length} batches`)
  for (const size of sizes.slice(0, -1)) {
    t.ok(size >= 262144 && size < 262144 + 1100, `a full batch is ${size} bytes`)
  }
  t.equal(transport.batches.flat().length, 600)
})

t.test('timeoutMs: a batch goes out that long after its first record', async (t) => {
  const { transport, offer } = setup({ timeoutMs: 25 })
  const startedAt = performance.now()
  offer(3)
  await transport.delivered(1)
  const waitedMs = performance.now() - startedAt
  t.same(transport.batches.map((b) => b.length), [3])
  t.ok(waitedMs >= 20, `waited ${waitedMs.toFixed(1)} ms for the batch timer`)
})

t.test('a failing destination: retries, then a drop; the next batch starts with platform.logsDropped', async (t) => {
  const { transport, subscriber, offer, timeline } = setup({ timeoutMs: 25 }, { retries: 2 })
  transport.answer = (attempt) => (attempt <= 3 ? 'fail' : 'ok')
  offer(4)
  await subscriber.drain()
  t.equal(transport.attempts, 4, 'the first attempt and two retries; then the notice')
  t.match(subscriber.record, { records: 4, delivered: 0, retries: 2, dropped: 4 })
  t.match(transport.batches, [[{ type: 'platform.logsDropped', record: { droppedBytes: Number, droppedRecords: 4, reason: 'could not send events: http request failed with status 500: no' } }]], 'the notice is delivered once the destination recovers')
  t.ok(timeline.some((line) => line.includes('retry 2 in 2 ms')), 'backoff doubles')
  offer(2)
  await subscriber.drain()
  t.same(transport.batches[1]?.map((e) => e.record), ['line 0\n', 'line 1\n'])
})

t.test('a drop notice that cannot be delivered is not noticed again (no endless loop)', async (t) => {
  const { transport, subscriber, offer } = setup({ timeoutMs: 25 }, { retries: 0 })
  transport.answer = () => 'fail'
  offer(1)
  await subscriber.drain()
  t.equal(transport.attempts, 2, 'the records, then the notice, then nothing')
  t.match(subscriber.record, { records: 1, dropped: 1, delivered: 0 })
})

t.test('a subscriber that never answers: every attempt times out, the drain still settles', async (t) => {
  const { transport, subscriber, offer } = setup({ timeoutMs: 25 }, { retries: 1, requestTimeoutMs: 20 })
  transport.answer = () => 'hang'
  offer(5)
  await subscriber.drain()
  t.match(subscriber.record, { records: 5, delivered: 0, retries: 2, dropped: 5 }, 'one retry for the records, one for the notice')
})

t.test('a consumer slower than production: past maxQueueBytes new records are dropped and reported', async (t) => {
  const { transport, subscriber, offer } = setup({ timeoutMs: 30000 }, { maxQueueBytes: 65536 })
  offer(2000, 'y'.repeat(100))
  t.ok(subscriber.record.dropped > 0, `${subscriber.record.dropped} dropped`)
  await subscriber.drain()
  const notice = transport.batches[0]?.[0]
  t.match(notice, { type: 'platform.logsDropped', record: { droppedRecords: subscriber.record.dropped, reason: SLOW_CONSUMER_REASON } })
  t.equal(subscriber.record.delivered + subscriber.record.dropped, 2000, 'every record delivered or dropped')
})

t.test('end(): what was owed is lost, except after a clean exit what came after SHUTDOWN', async (t) => {
  const killed = setup({ timeoutMs: 30000 })
  killed.offer(10)
  killed.subscriber.end(true, 5)
  t.match(killed.subscriber.record, { lost: 10, unsentAtExit: 0 })
  const clean = setup({ timeoutMs: 30000 })
  clean.offer(10)
  clean.subscriber.end(false, 5)
  t.match(clean.subscriber.record, { lost: 4, unsentAtExit: 6 }, 'seq 1–4 were before the SHUTDOWN mark')
  const inFlight = setup({ timeoutMs: 25 })
  inFlight.transport.answer = () => 'hang'
  inFlight.offer(3)
  const drained = inFlight.subscriber.drain()
  inFlight.subscriber.end(true, undefined)
  await drained
  t.match(inFlight.subscriber.record, { lost: 3, delivered: 0 }, 'a batch in flight counts as lost')
  inFlight.offer(1)
  t.equal(inFlight.subscriber.record.records, 3, 'nothing is taken after the end')
})

t.test('a frozen sandbox: nothing is sent until the thaw, and a failure during the freeze is not held against it', async (t) => {
  const { transport, subscriber, offer, gate } = setup({ timeoutMs: 25 }, { retries: 0 })
  gate.paused = true
  gate.epoch++
  offer(2)
  subscriber.resume()
  t.equal(transport.attempts, 0, 'paused')
  gate.resume()
  subscriber.resume()
  await transport.delivered(1)
  t.equal(transport.batches.length, 1)
  // An attempt that fails because a freeze began during it is tried again, not counted.
  transport.answer = (attempt) => {
    if (attempt === 2) {
      gate.epoch++
      return 'fail'
    }
    return 'ok'
  }
  offer(1)
  await subscriber.drain()
  t.match(subscriber.record, { dropped: 0, retries: 0, delivered: 3 })
})

t.test('Logs API subscribers get the Logs API shapes; streams not subscribed are skipped', async (t) => {
  const { transport, subscriber } = setup({ timeoutMs: 25 }, {}, ['platform'], 'logs')
  subscriber.offer({ time: 'T', type: 'platform.start', record: { requestId: 'r', version: '$LATEST', tracing: {} } }, 1)
  subscriber.offer({ time: 'T', type: 'function', record: 'skipped\n' }, 2)
  subscriber.offer({ time: 'T', type: 'platform.report', record: { requestId: 'r', status: 'success', metrics: { durationMs: 1 } } }, 3)
  await subscriber.drain()
  t.same(transport.batches.flat().map((e) => e.type), ['platform.start', 'platform.end', 'platform.report'])
  t.equal(subscriber.record.records, 3)
})
