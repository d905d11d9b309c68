// One subscription's buffer and delivery (LAMBDA-SPEC §4.1): records queue up and go out as a batch
// when maxItems or maxBytes is reached or timeoutMs has passed since the batch opened; one batch in
// flight at a time, so order is kept. A failed batch is retried with backoff, then dropped and
// reported with platform.logsDropped. Nothing here ever blocks the sandbox: the hub only offers.
import { setTimeout as sleep } from 'node:timers/promises'
import type { TelemetrySubscriberRecord } from '../record/run-record.js'
import { streamOf, type TelemetryEvent, type TelemetryStream } from './events.js'
import { toLogsApi } from './logs-api.js'
import type { Subscription } from './subscription.js'
import type { Transport } from './transport.js'

export interface DeliveryOptions {
  /** Attempts after the first for a batch that failed. */
  readonly retries: number
  /** The wait before the first retry, doubled before each next one. */
  readonly retryBackoffMs: number
  /** An attempt with no answer after this long has failed. */
  readonly requestTimeoutMs: number
  /** Past this many buffered bytes, new records are dropped (a consumer slower than production). */
  readonly maxQueueBytes: number
}

/** With `freeze`, the sandbox (and Lambda's own agent in it) is frozen between invokes: delivery waits. */
export interface PauseGate {
  readonly paused: boolean
  /** Bumped at every freeze: a failed attempt that overlapped one is not held against the subscriber. */
  readonly epoch: number
  resumed(): Promise<void>
}

export interface SubscriberHooks {
  now(): number
  /** A line in the run's timeline, attributed to this extension. */
  timeline(detail: string): void
  readonly gate: PauseGate
  /** The platform.logsDropped event that tells it about records it will never get. */
  droppedEvent(droppedRecords: number, droppedBytes: number, reason: string): TelemetryEvent
}

interface Item {
  /** The hub's sequence number of the event it came from: orders it against the SHUTDOWN mark. */
  readonly seq: number
  readonly json: string
  readonly bytes: number
  /** A platform.logsDropped notice: not one of the records it was owed. */
  readonly notice: boolean
}

export const SLOW_CONSUMER_REASON = 'Some logs were dropped because the downstream consumer is slower than the logs production rate'

function describeError(error: unknown, timeoutMs: number): string {
  const e = error as { name?: string; code?: string; message?: string }
  if (e?.name === 'TimeoutError' || e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT') {
    return `no answer within ${timeoutMs} ms`
  }
  return e?.message ?? String(error)
}

export class Subscriber {
  readonly name: string
  readonly external: boolean
  readonly subscription: Subscription
  readonly record: TelemetrySubscriberRecord
  readonly #transport: Transport
  readonly #options: DeliveryOptions
  readonly #hooks: SubscriberHooks
  readonly #types: ReadonlySet<TelemetryStream>
  readonly #stop = new AbortController()
  #queue: Item[] = []
  #queuedBytes = 0
  #inFlight: Item[] | undefined
  #unreported = { records: 0, bytes: 0, reason: '' }
  #batchTimer: NodeJS.Timeout | undefined
  #due = false
  #ended = false
  /** Records up to this sequence number go out without waiting for their batch (a drain's snapshot). */
  #drainUpTo = 0
  #drainWaiters: { readonly upTo: number; readonly resolve: () => void }[] = []

  constructor(
    agent: { readonly name: string; readonly external: boolean },
    subscription: Subscription,
    transport: Transport,
    options: DeliveryOptions,
    hooks: SubscriberHooks,
    generation: number,
  ) {
    this.name = agent.name
    this.external = agent.external
    this.subscription = subscription
    this.#transport = transport
    this.#options = options
    this.#hooks = hooks
    this.#types = new Set(subscription.types)
    this.record = {
      name: agent.name,
      api: subscription.api,
      external: agent.external,
      generation,
      types: [...subscription.types],
      destination: transport.description,
      buffering: { ...subscription.buffering },
      subscribedAtMs: hooks.now(),
      records: 0,
      delivered: 0,
      batches: 0,
      retries: 0,
      dropped: 0,
      lost: 0,
      unsentAtExit: 0,
      endedAtMs: null,
    }
  }

  get ended(): boolean {
    return this.#ended
  }

  /** Buffers the event if this subscription takes its stream (reshaped for the Logs API). */
  offer(event: TelemetryEvent, seq: number): void {
    if (this.#ended || !this.#types.has(streamOf(event.type))) {
      return
    }
    const shaped = this.subscription.api === 'logs' ? toLogsApi(event, this.subscription.schemaVersion) : [event]
    for (const one of shaped) {
      this.#enqueue(seq, JSON.stringify(one))
    }
    this.#pump()
  }

  /** Records it will never get (e.g. Init events the hub could not keep for replay). */
  noteDropped(records: number, bytes: number, reason: string): void {
    this.record.records += records
    this.#dropped(records, bytes, reason)
  }

  /**
   * Sends what is buffered now without waiting for timeoutMs, in batches of maxItems / maxBytes; settles
   * once that snapshot is delivered or dropped, or the subscription ended. Records offered meanwhile
   * are not waited for and go out as their own buffering says.
   */
  drain(): Promise<void> {
    const inFlight = (this.#inFlight ?? []).filter((item) => !item.notice).map((item) => item.seq)
    const upTo = Math.max(this.#queue.at(-1)?.seq ?? 0, ...inFlight)
    this.#drainUpTo = Math.max(this.#drainUpTo, upTo)
    const drained = new Promise<void>((resolve) => this.#drainWaiters.push({ upTo, resolve }))
    this.#pump()
    this.#settle()
    return drained
  }

  /** The sandbox thawed (or never froze): go on delivering. */
  resume(): void {
    this.#pump()
  }

  /**
   * Its process is gone (or the sandbox is): what is still buffered or in flight will never arrive.
   * After a clean exit, records emitted after SHUTDOWN went out (`seq >= shutdownMark`) could not
   * have been delivered by anyone and are counted apart; everything else is lost.
   */
  end(abnormal: boolean, shutdownMark: number | undefined): void {
    if (this.#ended) {
      return
    }
    this.#ended = true
    this.#stop.abort()
    this.#clearTimer()
    const pending = [...(this.#inFlight ?? []), ...this.#queue].filter((item) => !item.notice)
    for (const item of pending) {
      if (abnormal || shutdownMark === undefined || item.seq < shutdownMark) {
        this.record.lost++
      } else {
        this.record.unsentAtExit++
      }
    }
    this.#queue = []
    this.#queuedBytes = 0
    this.#inFlight = undefined
    this.record.endedAtMs = this.#hooks.now()
    this.#transport.close()
    this.#settle()
  }

  #enqueue(seq: number, json: string): void {
    const bytes = Buffer.byteLength(json)
    this.record.records++
    if (this.#queuedBytes + bytes > this.#options.maxQueueBytes) {
      this.#dropped(1, bytes, SLOW_CONSUMER_REASON)
      return
    }
    this.#queue.push({ seq, json, bytes, notice: false })
    this.#queuedBytes += bytes
  }

  #dropped(records: number, bytes: number, reason: string): void {
    if (records === 0) {
      return
    }
    if (this.#unreported.records === 0) {
      this.#hooks.timeline(`telemetry: dropping records (${reason})`)
    }
    this.record.dropped += records
    this.#unreported = { records: this.#unreported.records + records, bytes: this.#unreported.bytes + bytes, reason }
  }

  #armTimer(): void {
    if (this.#batchTimer === undefined && !this.#due) {
      this.#batchTimer = setTimeout(() => {
        this.#batchTimer = undefined
        this.#due = true
        this.#pump()
      }, this.subscription.buffering.timeoutMs)
      // The sandbox's processes and server keep the loop alive; a batch timer alone must not.
      this.#batchTimer.unref()
    }
  }

  #clearTimer(): void {
    if (this.#batchTimer !== undefined) {
      clearTimeout(this.#batchTimer)
      this.#batchTimer = undefined
    }
  }

  /** Starts the next batch if one is due and nothing is in flight. */
  #pump(): void {
    if (this.#ended || this.#inFlight !== undefined || this.#hooks.gate.paused) {
      return
    }
    // Only platform subscribers hear about drops (platform.logsDropped is a platform event).
    if (this.#unreported.records > 0 && !this.#types.has('platform')) {
      this.#unreported = { records: 0, bytes: 0, reason: '' }
    }
    this.#settle()
    const notice = this.#unreported.records > 0
    if (this.#queue.length === 0 && !notice) {
      this.#due = false
      return
    }
    const { maxItems, maxBytes } = this.subscription.buffering
    const full = this.#queue.length >= maxItems || this.#queuedBytes >= maxBytes
    // A drain sends its snapshot (and a drop notice) now; later records keep to their buffering.
    const draining = (this.#queue[0]?.seq ?? Infinity) <= this.#drainUpTo || (notice && this.#drainWaiters.length > 0)
    if (!full && !this.#due && !draining) {
      this.#armTimer()
      return
    }
    const upTo = full || this.#due ? Infinity : this.#drainUpTo
    this.#due = false
    this.#clearTimer()
    const batch: Item[] = []
    if (notice) {
      const { records, bytes, reason } = this.#unreported
      this.#unreported = { records: 0, bytes: 0, reason: '' }
      const event = this.#hooks.droppedEvent(records, bytes, reason)
      const shaped = this.subscription.api === 'logs' ? toLogsApi(event, this.subscription.schemaVersion) : [event]
      for (const one of shaped) {
        const json = JSON.stringify(one)
        batch.push({ seq: Number.MAX_SAFE_INTEGER, json, bytes: Buffer.byteLength(json), notice: true })
      }
    }
    // Full at maxItems, or once maxBytes is reached: a batch may pass maxBytes by its last record,
    // as Lambda's (hence "payloads up to 2*maxBytes").
    let count = 0
    let bytes = 0
    while (this.#queue.length > 0 && count < maxItems && bytes < maxBytes && (this.#queue[0] as Item).seq <= upTo) {
      const item = this.#queue.shift() as Item
      batch.push(item)
      count++
      bytes += item.bytes
      this.#queuedBytes -= item.bytes
    }
    if (this.#queue.length > 0) {
      this.#armTimer()
    }
    void this.#deliver(batch)
  }

  async #deliver(batch: Item[]): Promise<void> {
    this.#inFlight = batch
    const events = batch.map((item) => item.json)
    const records = batch.filter((item) => !item.notice)
    const stop = this.#stop.signal
    const gate = this.#hooks.gate
    let attempt = 0
    for (;;) {
      const epoch = gate.epoch
      const failure = await this.#attempt(events)
      if (this.#ended) {
        // Whatever it was, end() has accounted for this batch.
        return
      }
      if (failure === undefined) {
        this.record.delivered += records.length
        this.record.batches++
        this.#hooks.timeline(`telemetry: batch ${this.record.batches} delivered (${records.length} records${records.length === batch.length ? '' : ' and platform.logsDropped'})`)
        break
      }
      if (gate.paused || gate.epoch !== epoch) {
        // The subscriber was frozen with the sandbox: try again after the thaw, without counting it.
        await Promise.race([gate.resumed(), abortedPromise(stop)])
        continue
      }
      const reason = describeError(failure, this.#options.requestTimeoutMs)
      if (attempt >= this.#options.retries) {
        this.#hooks.timeline(`telemetry: batch of ${records.length} records failed ${attempt + 1} time(s) (${reason}); dropped`)
        this.#dropped(records.length, records.reduce((sum, item) => sum + item.bytes, 0), `could not send events: ${reason}`)
        break
      }
      const delayMs = this.#options.retryBackoffMs * 2 ** attempt
      attempt++
      this.record.retries++
      this.#hooks.timeline(`telemetry: delivery failed (${reason}); retry ${attempt} in ${delayMs} ms`)
      try {
        await sleep(delayMs, undefined, { signal: stop })
      } catch {
        return
      }
    }
    this.#inFlight = undefined
    this.#pump()
  }

  /**
   * One attempt: undefined when the subscriber took the batch, else why not. Bounded by our own
   * timer: undici does not abort a connect that hangs (a listener that never accepts) promptly.
   */
  async #attempt(events: readonly string[]): Promise<unknown> {
    const attemptSignal = this.#attemptSignal()
    const sent = this.#transport.send(events, attemptSignal.signal).then(
      () => undefined,
      (error: unknown) => error ?? new Error('delivery failed'),
    )
    const abandoned = abortedPromise(attemptSignal.signal).then(() => attemptSignal.signal.reason as unknown)
    try {
      return await Promise.race([sent, abandoned])
    } finally {
      attemptSignal.dispose()
    }
  }

  /**
   * Aborts at requestTimeoutMs or when the subscription ends. A plain timer, not
   * AbortSignal.any(AbortSignal.timeout(…)): a composite holds its sources weakly, and a collected
   * timeout signal never fires (nodejs/node#48951).
   */
  #attemptSignal(): { signal: AbortSignal; dispose(): void } {
    const controller = new AbortController()
    const timeoutMs = this.#options.requestTimeoutMs
    const timer = setTimeout(() => controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError')), timeoutMs)
    const onStop = () => controller.abort(this.#stop.signal.reason)
    this.#stop.signal.addEventListener('abort', onStop, { once: true })
    return {
      signal: controller.signal,
      dispose: () => {
        clearTimeout(timer)
        this.#stop.signal.removeEventListener('abort', onStop)
      },
    }
  }

  /** Resolves the drains whose snapshot is out: nothing of it queued or in flight, no notice pending. */
  #settle(): void {
    if (this.#drainWaiters.length === 0) {
      return
    }
    const firstQueued = this.#queue[0]?.seq ?? Infinity
    const firstInFlight = this.#inFlight?.find((item) => !item.notice)?.seq ?? Infinity
    const pending = Math.min(firstQueued, firstInFlight)
    const noticeOwed = this.#unreported.records > 0 || this.#inFlight?.some((item) => item.notice) === true
    const waiters = this.#drainWaiters
    this.#drainWaiters = this.#ended ? [] : waiters.filter((waiter) => waiter.upTo >= pending || noticeOwed)
    for (const waiter of waiters) {
      if (!this.#drainWaiters.includes(waiter)) {
        waiter.resolve()
      }
    }
  }
}

function abortedPromise(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve()
    } else {
      signal.addEventListener('abort', () => resolve(), { once: true })
    }
  })
}
