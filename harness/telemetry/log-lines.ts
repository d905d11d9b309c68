// The platform's own CloudWatch lines (LAMBDA-SPEC §6, plain-text system log format), derived from
// the platform events: tab-separated fields, 2-decimal durations, REPORT's trailing tab.
import type { SubscriptionApi } from './subscription.js'

type Fields = Record<string, unknown>

function ms(value: unknown): string {
  return `${Number(value ?? 0).toFixed(2)} ms`
}

function text(value: unknown, fallback = ''): string {
  return typeof value === 'string' ? value : value === undefined || value === null ? fallback : String(value)
}

/** `REPORT RequestId: …\tDuration: …\t…\t`: every field followed by a tab, Init Duration after memory. */
export function reportLine(record: Fields): string {
  const metrics = (record.metrics ?? {}) as Fields
  const fields = [
    `REPORT RequestId: ${text(record.requestId)}`,
    `Duration: ${ms(metrics.durationMs)}`,
    `Billed Duration: ${Math.ceil(Number(metrics.billedDurationMs ?? 0))} ms`,
    `Memory Size: ${text(metrics.memorySizeMB)} MB`,
    `Max Memory Used: ${text(metrics.maxMemoryUsedMB)} MB`,
  ]
  if (metrics.initDurationMs !== undefined) {
    fields.push(`Init Duration: ${ms(metrics.initDurationMs)}`)
  }
  if (record.status !== undefined && record.status !== 'success') {
    fields.push(`Status: ${text(record.status)}`)
    if (record.errorType !== undefined && record.status !== 'timeout') {
      fields.push(`Error Type: ${text(record.errorType)}`)
    }
  }
  return `${fields.join('\t')}\t`
}

/** `INIT_REPORT …`: printed for a failed or timed-out Init (on-demand success prints none). */
export function initReportLine(record: Fields): string {
  const metrics = (record.metrics ?? {}) as Fields
  const fields = [`INIT_REPORT Init Duration: ${ms(metrics.durationMs)}`, `Phase: ${text(record.phase, 'init')}`, `Status: ${text(record.status)}`]
  if (record.errorType !== undefined && record.status !== 'timeout') {
    fields.push(`Error Type: ${text(record.errorType)}`)
  }
  return fields.join('\t')
}

/** The lines one platform event produces, in order (platform.report gives END then REPORT). */
export function platformLines(type: string, record: Fields): string[] {
  switch (type) {
    case 'platform.initStart':
      return [`INIT_START Runtime Version: ${text(record.runtimeVersion)}\tRuntime Version ARN: ${text(record.runtimeVersionArn)}`]
    case 'platform.extension': {
      const events = Array.isArray(record.events) ? record.events.map((event) => text(event)) : []
      return [`EXTENSION\tName: ${text(record.name)}\tState: ${text(record.state)}\tEvents: [${events.join(', ')}]`]
    }
    case 'platform.initReport':
      return record.status === 'success' ? [] : [initReportLine(record)]
    case 'platform.start':
      return [`START RequestId: ${text(record.requestId)} Version: ${text(record.version, '$LATEST')}`]
    case 'platform.report':
      return [`END RequestId: ${text(record.requestId)}`, reportLine(record)]
    default:
      return []
  }
}

/** `TELEMETRY\tName: …\tState: Subscribed\tTypes: [Platform, Function]`; `LOGS` for the Logs API. */
export function subscriptionLine(api: SubscriptionApi, name: string, state: string, types: readonly string[]): string {
  const shown = types.map((type) => type.charAt(0).toUpperCase() + type.slice(1))
  return `${api === 'telemetry' ? 'TELEMETRY' : 'LOGS'}\tName: ${name}\tState: ${state}\tTypes: [${shown.join(', ')}]`
}
