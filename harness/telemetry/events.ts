// The Telemetry API event envelope (LAMBDA-SPEC §4.2) and the three streams a subscriber picks from.
import type { PlatformEventType } from '../lifecycle/platform-events.js'

/** The `types` a subscription names: one stream each. */
export type TelemetryStream = 'platform' | 'function' | 'extension'
export const TELEMETRY_STREAMS: readonly TelemetryStream[] = ['platform', 'function', 'extension']

/** Everything the hub can emit; the Logs API renames or adds a few (see logs-api.ts). */
export type TelemetryEventType = PlatformEventType | 'function' | 'extension'

/** `{"time","type","record"}`: the record is an object for platform events, a string for lines. */
export interface TelemetryEvent {
  readonly time: string
  readonly type: string
  readonly record: Record<string, unknown> | string
}

/** RAPID's layout `2006-01-02T15:04:05.000Z`: ISO-8601, milliseconds, UTC. */
export function eventTime(epochMs: number = Date.now()): string {
  return new Date(epochMs).toISOString()
}

export function streamOf(type: string): TelemetryStream {
  return type === 'function' || type === 'extension' ? type : 'platform'
}
