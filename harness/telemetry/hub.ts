// The TelemetryHub: one per sandbox. It turns what the sandbox reports (platform events at Lambda's
// points, every output line) into Telemetry API events, keeps Init's events for late subscribers,
// takes subscriptions from the router, hands each subscriber its events, writes Lambda's log lines
// into the record, and accounts for every record a subscriber was owed.
//
// Generations: each Init (platform.initStart) opens subscriptions and starts an empty replay
// buffer; initDone() closes both (RAPID doRuntimeDomainInit, RIE LMI relay.go). A subscription
// lives as long as its extension's process (the runtime's, for an internal extension).
import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Agent } from 'undici'
import type { ParsedTelemetryOptions } from '../config/telemetry-options.js'
import { isRejection, reject, type ApiRejection } from '../lifecycle/error-types.js'
import type { PlatformEvents, PlatformEventType, PlatformRecords } from '../lifecycle/platform-events.js'
import type { Recorder } from '../record/recorder.js'
import type { SubscriberEnd, TelemetryResources } from '../record/run-record.js'
import { eventTime, type TelemetryEvent } from './events.js'
import { platformLines, subscriptionLine } from './log-lines.js'
import { Subscriber, type PauseGate } from './subscriber.js'
import { parseSubscription, validationErrorType, type SubscriptionApi } from './subscription.js'
import { createTransport, httpAgent, type SandboxConnect } from './transport.js'

export interface TelemetryHubSetup {
  readonly recorder: Recorder
  readonly options: ParsedTelemetryOptions
  /** INIT_START's Runtime Version before `.vN`: `python:3.12`, or `provided:al2023` for an OS-only runtime. */
  readonly runtimeName: string
  readonly region: string
  /** The sandbox is SIGSTOPped between invokes: delivery pauses from platform.report to the next start. */
  readonly freezes: boolean
  /** How a delivery reaches the sandbox's 127.0.0.1 (default: the host's loopback). */
  readonly connect?: SandboxConnect
}

/** Who is subscribing: the agent the router identified by Lambda-Extension-Identifier. */
export interface SubscribingAgent {
  readonly name: string
  readonly external: boolean
}

const API_NAME: Record<SubscriptionApi, string> = { telemetry: 'Telemetry', logs: 'Logs' }

/**
 * INIT_START's version and ARN. Lambda's are `python:3.12.v38` and a per-release SHA-256 ARN; the
 * harness is no release of Lambda's, so it names version 0 and hashes its own profile name.
 */
export function runtimeVersion(runtimeName: string, region: string): { runtimeVersion: string; runtimeVersionArn: string } {
  const sha = createHash('sha256').update(`lambda-harness ${runtimeName}`).digest('hex')
  return { runtimeVersion: `${runtimeName}.v0`, runtimeVersionArn: `arn:aws:lambda:${region}::runtime:${sha}` }
}

class Gate implements PauseGate {
  paused = false
  epoch = 0
  #waiters: (() => void)[] = []

  pause(): void {
    if (!this.paused) {
      this.paused = true
      this.epoch++
    }
  }

  resume(): void {
    this.paused = false
    const waiters = this.#waiters
    this.#waiters = []
    for (const resolve of waiters) {
      resolve()
    }
  }

  resumed(): Promise<void> {
    return this.paused ? new Promise((resolve) => this.#waiters.push(resolve)) : Promise.resolve()
  }
}

interface Replayed {
  readonly seq: number
  readonly event: TelemetryEvent
  readonly bytes: number
}

export class TelemetryHub implements PlatformEvents {
  readonly #setup: TelemetryHubSetup
  readonly #version: { runtimeVersion: string; runtimeVersionArn: string }
  /** Made for the first HTTP subscriber (loading undici then), shared by the rest. */
  #dispatcher: Promise<Agent> | undefined
  readonly #gate = new Gate()
  #generation = -1
  #open = false
  #seq = 0
  #shutdownMark: number | undefined
  #replay: Replayed[] = []
  #replayBytes = 0
  #replayDropped = { records: 0, bytes: 0 }
  /** This generation's subscriptions, by extension name. */
  #subscribers = new Map<string, Subscriber>()
  #closed = false

  constructor(setup: TelemetryHubSetup) {
    this.#setup = setup
    this.#version = runtimeVersion(setup.runtimeName, setup.region)
  }

  // ---- PlatformEvents: what the lifecycle reports -----------------------------------------------

  platform<K extends PlatformEventType>(type: K, typed: PlatformRecords[K]): void {
    let record: Record<string, unknown> = typed
    if (type === 'platform.initStart') {
      this.#beginInit()
      record = { ...record, ...this.#version }
    }
    this.#log(platformLines(type, record))
    if (this.#listened()) {
      this.#emit({ time: eventTime(), type, record })
    }
    if (type === 'platform.start') {
      this.#resume()
    } else if (type === 'platform.report' && this.#setup.freezes) {
      // Lambda's agent lives in the sandbox and is frozen with it until the next invoke.
      this.#gate.pause()
    }
  }

  line(source: 'function' | 'extension', _process: string, line: string): void {
    if (this.#listened()) {
      // A 2022 capture shows each record keeping its "\n" (LAMBDA-SPEC §4.2); the RIE strips it.
      this.#emit({ time: eventTime(), type: source, record: `${line}\n` })
    }
  }

  initDone(): void {
    this.#open = false
    this.#replay = []
    this.#replayBytes = 0
  }

  /**
   * Delivers a snapshot of what is buffered now, never waiting past `budgetMs` and never for records
   * that arrive meanwhile (Managed Instances' flush before SHUTDOWN).
   */
  async flush(budgetMs: number): Promise<void> {
    this.#resume()
    const live = [...this.#subscribers.values()].filter((subscriber) => !subscriber.ended)
    const startedAtMs = this.#setup.recorder.now()
    if (live.length > 0) {
      const budget = new AbortController()
      const drained = Promise.all(live.map((subscriber) => subscriber.drain())).then(() => true)
      const timedOut = sleep(Math.max(0, budgetMs), false, { signal: budget.signal }).catch(() => false)
      const complete = await Promise.race([drained, timedOut])
      budget.abort()
      const detail = complete
        ? `telemetry flushed before SHUTDOWN in ${(this.#setup.recorder.now() - startedAtMs).toFixed(1)} ms`
        : `telemetry flush did not finish within its ${budgetMs.toFixed(0)} ms budget; delivery goes on in the background`
      this.#setup.recorder.add('phase', detail)
    }
  }

  shutdownStarts(): void {
    this.#resume()
    this.#shutdownMark = this.#seq + 1
  }

  exited(process: string, exit: { readonly code: number | null; readonly signal: NodeJS.Signals | null }): void {
    const abnormal = exit.signal !== null || exit.code !== 0
    const how: SubscriberEnd = { by: 'exit', code: exit.code, signal: exit.signal }
    for (const subscriber of this.#subscribers.values()) {
      // An internal extension lives in the runtime's process and ends with it.
      const owned = process === 'runtime' ? !subscriber.external : subscriber.external && subscriber.name === process
      if (owned) {
        this.#end(subscriber, abnormal, how)
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) {
      return
    }
    this.#closed = true
    for (const subscriber of this.#subscribers.values()) {
      this.#end(subscriber, true, { by: 'sandbox-end' })
    }
    this.#gate.resume()
    await this.#dispatcher?.then((agent) => agent.destroy()).catch(() => undefined)
  }

  #agent(): Promise<Agent> {
    // Loopback only; each attempt carries its own timeout signal.
    if (this.#dispatcher === undefined) {
      this.#dispatcher = httpAgent({ keepAliveTimeout: 4000 }, this.#setup.connect, this.#setup.options.requestTimeoutMs)
      // A failed load reaches each send; it must not also be an unhandled rejection.
      this.#dispatcher.catch(() => undefined)
    }
    return this.#dispatcher
  }

  // ---- Subscriptions (the router) ----------------------------------------------------------

  /**
   * PUT /2022-07-01/telemetry or /2020-08-15/logs from an identified extension. Undefined means
   * subscribed: the router answers 200 "OK". Validation comes first, then the Init check, as in
   * RIE LMI (subscription_api.go validates before addSubscriber refuses).
   */
  subscribe(api: SubscriptionApi, agent: SubscribingAgent, body: Buffer): ApiRejection | undefined {
    const parsed = parseSubscription(api, body, { maxItems: this.#setup.options.defaultMaxItems })
    if (isRejection(parsed)) {
      return parsed
    }
    if (!this.#open || this.#closed) {
      return reject(`${API_NAME[api]}.SubscriptionClosed`, `${API_NAME[api]} API subscription is closed`)
    }
    const existing = this.#subscribers.get(agent.name)
    if (existing !== undefined && existing.subscription.api !== api) {
      // Documented as "returns an error"; the body is UNCONFIRMED.
      return reject(validationErrorType(api),
        `extension ${agent.name} is already subscribed to the ${API_NAME[existing.subscription.api]} API; an extension subscribes through either the Telemetry API or the Logs API`,
      )
    }
    if (existing !== undefined) {
      if (api === 'logs') {
        // "Logs API subscription is idempotent": the first subscription stays.
        return undefined
      }
      // RIE LMI refuses a second Telemetry subscription with a 500 (UNCONFIRMED for production).
      this.#setup.recorder.add('api', `${agent.name} subscribed to the Telemetry API a second time: refused as RIE does`, agent.name)
      return reject('InternalServerError', 'Internal Server Error')
    }
    const subscriber = new Subscriber(
      agent,
      parsed,
      createTransport(parsed.destination, () => this.#agent(), this.#setup.connect),
      this.#setup.options,
      {
        now: () => this.#setup.recorder.now(),
        timeline: (detail) => this.#setup.recorder.add('event', detail, agent.name),
        gate: this.#gate,
        droppedEvent: (droppedRecords, droppedBytes, reason) => ({
          time: eventTime(),
          type: 'platform.logsDropped',
          record: { droppedBytes, droppedRecords, reason },
        }),
      },
      this.#generation,
    )
    this.#subscribers.set(agent.name, subscriber)
    this.#resources().subscribers.push(subscriber.record)
    // Late subscribers get everything emitted so far in this Init (RIE LMI relay.go).
    for (const { seq, event } of this.#replay) {
      subscriber.offer(event, seq)
    }
    if (this.#replayDropped.records > 0) {
      subscriber.noteDropped(this.#replayDropped.records, this.#replayDropped.bytes, 'Init events exceeded the replay buffer')
    }
    this.#log([subscriptionLine(api, agent.name, 'Subscribed', parsed.types)])
    this.#emit({ time: eventTime(), type: 'platform.telemetrySubscription', record: { name: agent.name, state: 'Subscribed', types: [...parsed.types] } })
    return undefined
  }

  // ---- Internals ---------------------------------------------------------------------------

  #beginInit(): void {
    // Whatever the last generation's subscribers still held is gone with their processes.
    for (const subscriber of this.#subscribers.values()) {
      this.#end(subscriber, true, { by: 'next-init' })
    }
    this.#subscribers = new Map()
    this.#generation++
    this.#open = true
    this.#replay = []
    this.#replayBytes = 0
    this.#replayDropped = { records: 0, bytes: 0 }
    this.#shutdownMark = undefined
    this.#resume()
  }

  /**
   * Whether an event emitted now can reach anyone: a subscriber of this generation, or a later one
   * through Init's replay buffer. Otherwise the event (and its timestamp) is not built at all: with
   * no subscriber that was ~30 µs of every invoke (bench/findings.md). The log lines are written
   * either way.
   */
  #listened(): boolean {
    return !this.#closed && (this.#open || this.#subscribers.size > 0)
  }

  #emit(event: TelemetryEvent): void {
    if (this.#closed) {
      return
    }
    const seq = ++this.#seq
    for (const subscriber of this.#subscribers.values()) {
      subscriber.offer(event, seq)
    }
    if (this.#open) {
      this.#keepForReplay(seq, event)
    }
  }

  /** Init's events, bounded like a subscriber's buffer: past it the oldest go (and are reported). */
  #keepForReplay(seq: number, event: TelemetryEvent): void {
    const bytes = typeof event.record === 'string' ? event.record.length + 64 : 256
    this.#replay.push({ seq, event, bytes })
    this.#replayBytes += bytes
    while (this.#replayBytes > this.#setup.options.maxQueueBytes && this.#replay.length > 0) {
      const oldest = this.#replay.shift() as Replayed
      this.#replayBytes -= oldest.bytes
      this.#replayDropped.records++
      this.#replayDropped.bytes += oldest.bytes
    }
  }

  #resume(): void {
    if (this.#gate.paused) {
      this.#gate.resume()
      for (const subscriber of this.#subscribers.values()) {
        subscriber.resume()
      }
    }
  }

  #end(subscriber: Subscriber, abnormal: boolean, how: SubscriberEnd): void {
    if (subscriber.ended) {
      return
    }
    subscriber.end(abnormal, this.#shutdownMark)
    subscriber.record.end = how
  }

  #log(lines: readonly string[]): void {
    this.#setup.recorder.log(lines)
  }

  #resources(): TelemetryResources {
    const resources = this.#setup.recorder.record.resources
    resources.telemetry ??= { subscribers: [] } satisfies TelemetryResources
    return resources.telemetry as TelemetryResources
  }
}
