// Options of the Telemetry/Logs API delivery (`BootOptions.telemetry`). Lambda documents none of
// these numbers except the buffering ranges; where it is UNCONFIRMED the default is the stricter one.
import { invalid, isObject } from './validate.js'

export interface TelemetryOptions {
  /**
   * `buffering.maxItems` for a subscription that leaves it out. UNCONFIRMED: telemetry-api.md and
   * RAPID LMI say 10000, the API reference page says 1000. Default 1000, the stricter reading
   * (smaller batches, more of them).
   */
  defaultMaxItems?: 1000 | 10000
  /** Attempts after the first for a batch a subscriber did not take (0–10). Default 3. */
  retries?: number
  /** Wait before the first retry, doubled before each next one (0–10000 ms). Default 100. */
  retryBackoffMs?: number
  /** An attempt with no answer after this long has failed (10–60000 ms). Default 2000. */
  requestTimeoutMs?: number
  /** Bytes buffered for one subscriber past which new records are dropped (65536–268435456). Default 8 MiB. */
  maxQueueBytes?: number
  /**
   * Lambda Managed Instances' order: deliver what is buffered (one snapshot, 1 s cap) between the
   * runtime's exit and SHUTDOWN. Default false: on-demand Lambda sends SHUTDOWN at once (LAMBDA-SPEC §3.3).
   */
  flushBeforeShutdown?: boolean
}

export interface ParsedTelemetryOptions {
  readonly defaultMaxItems: number
  readonly retries: number
  readonly retryBackoffMs: number
  readonly requestTimeoutMs: number
  readonly maxQueueBytes: number
  readonly flushBeforeShutdown: boolean
}

const TELEMETRY_DEFAULTS: ParsedTelemetryOptions = {
  defaultMaxItems: 1000,
  retries: 3,
  retryBackoffMs: 100,
  requestTimeoutMs: 2000,
  maxQueueBytes: 8 * 1024 * 1024,
  flushBeforeShutdown: false,
}

export function validateTelemetryOptions(value: unknown): ParsedTelemetryOptions {
  if (value === undefined) {
    return TELEMETRY_DEFAULTS
  }
  if (!isObject(value)) {
    throw invalid('telemetry', 'an object', value)
  }
  const given = value
  const integer = (name: Exclude<keyof ParsedTelemetryOptions, 'flushBeforeShutdown'>, min: number, max: number): number => {
    const raw = given[name]
    if (raw === undefined) {
      return TELEMETRY_DEFAULTS[name]
    }
    if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < min || raw > max) {
      throw invalid(`telemetry.${name}`, `a whole number from ${min} to ${max}`, raw)
    }
    return raw
  }
  const defaultMaxItems = given.defaultMaxItems ?? TELEMETRY_DEFAULTS.defaultMaxItems
  if (defaultMaxItems !== 1000 && defaultMaxItems !== 10000) {
    throw invalid('telemetry.defaultMaxItems', '1000 or 10000', defaultMaxItems)
  }
  const flushBeforeShutdown = given.flushBeforeShutdown ?? TELEMETRY_DEFAULTS.flushBeforeShutdown
  if (typeof flushBeforeShutdown !== 'boolean') {
    throw invalid('telemetry.flushBeforeShutdown', 'true or false', flushBeforeShutdown)
  }
  return {
    defaultMaxItems,
    retries: integer('retries', 0, 10),
    retryBackoffMs: integer('retryBackoffMs', 0, 10_000),
    requestTimeoutMs: integer('requestTimeoutMs', 10, 60_000),
    maxQueueBytes: integer('maxQueueBytes', 65536, 268435456),
    flushBeforeShutdown,
  }
}
