// What a Logs API (2020-08-15) subscriber receives instead of Telemetry API events (LAMBDA-SPEC
// §4.3, runtimes-logs-api.md): its own record shapes, platform.end and platform.fault, no init
// events, and platform.runtimeDone only under schema 2021-03-18.
import type { TelemetryEvent } from './events.js'

/** Error types that mean the platform, not the function, ended the invoke: a platform.fault. */
function isFault(errorType: unknown): boolean {
  return typeof errorType === 'string' && (errorType === 'Runtime.ExitError' || errorType.startsWith('Sandbox.') || errorType.startsWith('Extension.'))
}

function pick(record: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const key of keys) {
    if (record[key] !== undefined) {
      out[key] = record[key]
    }
  }
  return out
}

/** The Logs API events for one Telemetry event (none, one, or several), in delivery order. */
export function toLogsApi(event: TelemetryEvent, schemaVersion: string): TelemetryEvent[] {
  const { time, type, record } = event
  if (typeof record === 'string') {
    // function / extension lines: the same shape in both APIs.
    return [event]
  }
  switch (type) {
    case 'platform.start':
      return [{ time, type, record: pick(record, ['requestId', 'version']) }]
    case 'platform.runtimeDone': {
      if (schemaVersion !== '2021-03-18') {
        return []
      }
      // The Logs API knows success, failure and timeout only.
      const status = record.status === 'success' || record.status === 'timeout' ? record.status : 'failure'
      return [{ time, type, record: { requestId: record.requestId, status } }]
    }
    case 'platform.report': {
      const events: TelemetryEvent[] = []
      if (record.status !== 'success' && isFault(record.errorType)) {
        events.push({ time, type: 'platform.fault', record: `RequestId: ${String(record.requestId)} Status: ${String(record.status)}\tErrorType: ${String(record.errorType)}` })
      }
      const metrics = (record.metrics ?? {}) as Record<string, unknown>
      events.push({ time, type: 'platform.end', record: { requestId: record.requestId } })
      events.push({
        time,
        type,
        record: {
          requestId: record.requestId,
          metrics: pick(metrics, ['durationMs', 'billedDurationMs', 'memorySizeMB', 'maxMemoryUsedMB', 'initDurationMs']),
        },
      })
      return events
    }
    case 'platform.extension':
      return [{ time, type, record: pick(record, ['name', 'state', 'events']) }]
    case 'platform.telemetrySubscription':
      return [{ time, type: 'platform.logsSubscription', record: pick(record, ['name', 'state', 'types']) }]
    case 'platform.logsDropped':
      return [{ time, type, record: pick(record, ['reason', 'droppedRecords', 'droppedBytes']) }]
    default:
      // initStart, initRuntimeDone, initReport: Telemetry API only.
      return []
  }
}
