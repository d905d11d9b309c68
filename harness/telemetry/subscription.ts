// Subscribe requests of the Telemetry API (2022-07-01) and the Logs API (2020-08-15), validated as
// LAMBDA-SPEC §4.1 and §4.3 describe. Pure: body bytes in, a Subscription or a 400 out.
import { SANDBOX_API_PORT } from '../config/environment.js'
import { reject, type ApiRejection } from '../lifecycle/error-types.js'
import { TELEMETRY_STREAMS, type TelemetryStream } from './events.js'

export type SubscriptionApi = 'telemetry' | 'logs'

export interface Buffering {
  readonly maxItems: number
  readonly maxBytes: number
  readonly timeoutMs: number
}

export type Destination =
  | {
      readonly protocol: 'HTTP'
      /** The URI as the extension gave it (its host stays in the Host header). */
      readonly uri: string
      /** host:port as written in the URI, for the Host header. */
      readonly authority: string
      readonly port: number
      /** Path and query, at least "/". */
      readonly path: string
      readonly method: 'POST' | 'PUT'
    }
  | { readonly protocol: 'TCP'; readonly port: number }

export interface Subscription {
  readonly api: SubscriptionApi
  readonly schemaVersion: string
  /** In the order the extension listed them (the TELEMETRY log line keeps that order). */
  readonly types: readonly TelemetryStream[]
  readonly buffering: Buffering
  readonly destination: Destination
}

/** The ranges of the RAPID LMI schema, which telemetry-api.md and the Logs API docs repeat. */
export const BUFFERING_LIMITS: Readonly<Record<keyof Buffering, { readonly min: number; readonly max: number }>> = {
  maxItems: { min: 1000, max: 10000 },
  maxBytes: { min: 262144, max: 1048576 },
  timeoutMs: { min: 25, max: 30000 },
}
export const DEFAULT_MAX_BYTES = 262144
export const DEFAULT_TIMEOUT_MS = 1000

export const TELEMETRY_SCHEMA_VERSIONS = ['2022-07-01', '2022-12-13', '2025-01-29'] as const
/** The Logs API's versions; 2021-03-18 adds platform.runtimeDone. Optional, default 2020-08-15. */
export const LOGS_SCHEMA_VERSIONS = ['2020-08-15', '2021-03-18'] as const

/**
 * Lambda accepts only `sandbox.localdomain`; AWS's own samples use `sandbox`, which resolves to
 * the same place inside the sandbox. Both mean "this sandbox": the harness connects to 127.0.0.1.
 */
export const SANDBOX_HOSTS: readonly string[] = ['sandbox.localdomain', 'sandbox']

export function validationErrorType(api: SubscriptionApi): string {
  return api === 'telemetry' ? 'ValidationError' : 'Logs.ValidationError'
}

export interface SubscriptionDefaults {
  /** maxItems when the request leaves it out: UNCONFIRMED 1000 or 10000 (LAMBDA-SPEC §4.1). */
  readonly maxItems: number
}

/**
 * Every problem is reported, joined with "; ", as Lambda's own example shows
 * ("URI port is not provided; types should not be empty").
 */
export function parseSubscription(api: SubscriptionApi, body: Buffer, defaults: SubscriptionDefaults): Subscription | ApiRejection {
  const fail = (messages: string[]) => reject(validationErrorType(api), messages.join('; '))
  let value: unknown
  try {
    value = JSON.parse(body.toString('utf8'))
  } catch (error) {
    return fail([`request body is not valid JSON: ${(error as Error).message}`])
  }
  if (!isObject(value)) {
    return fail(['request body should be a JSON object'])
  }
  const problems: string[] = []
  const schemaVersion = parseSchemaVersion(api, value.schemaVersion, problems)
  const destination = parseDestination(value.destination, problems)
  const types = parseTypes(value.types, problems)
  const buffering = parseBuffering(value.buffering, defaults, problems)
  if (problems.length > 0 || schemaVersion === undefined || destination === undefined || types === undefined || buffering === undefined) {
    return fail(problems)
  }
  return { api, schemaVersion, types, buffering, destination }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function parseSchemaVersion(api: SubscriptionApi, value: unknown, problems: string[]): string | undefined {
  const allowed: readonly string[] = api === 'telemetry' ? TELEMETRY_SCHEMA_VERSIONS : LOGS_SCHEMA_VERSIONS
  if (value === undefined && api === 'logs') {
    return '2020-08-15'
  }
  if (typeof value !== 'string' || !allowed.includes(value)) {
    problems.push(`schemaVersion should be one of ${allowed.join(', ')}`)
    return undefined
  }
  return value
}

function parseTypes(value: unknown, problems: string[]): TelemetryStream[] | undefined {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) {
    problems.push('types should not be empty')
    return undefined
  }
  if (!Array.isArray(value) || !value.every((type) => typeof type === 'string')) {
    problems.push('types should be a list of strings')
    return undefined
  }
  const unknown = value.filter((type) => !(TELEMETRY_STREAMS as readonly string[]).includes(type))
  if (unknown.length > 0) {
    problems.push(`types should be a subset of ${TELEMETRY_STREAMS.join(', ')}: got ${unknown.map((type) => JSON.stringify(type)).join(', ')}`)
    return undefined
  }
  if (new Set(value).size !== value.length) {
    problems.push('types should be unique')
    return undefined
  }
  return value as TelemetryStream[]
}

function parseBuffering(value: unknown, defaults: SubscriptionDefaults, problems: string[]): Buffering | undefined {
  if (value !== undefined && !isObject(value)) {
    problems.push('buffering should be an object')
    return undefined
  }
  const given = value ?? {}
  const pick = (name: keyof Buffering, fallback: number): number | undefined => {
    const raw = given[name]
    if (raw === undefined) {
      return fallback
    }
    const { min, max } = BUFFERING_LIMITS[name]
    if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < min || raw > max) {
      problems.push(`${name} should be an integer between ${min} and ${max}`)
      return undefined
    }
    return raw
  }
  const maxItems = pick('maxItems', defaults.maxItems)
  const maxBytes = pick('maxBytes', DEFAULT_MAX_BYTES)
  const timeoutMs = pick('timeoutMs', DEFAULT_TIMEOUT_MS)
  if (maxItems === undefined || maxBytes === undefined || timeoutMs === undefined) {
    return undefined
  }
  return { maxItems, maxBytes, timeoutMs }
}

function parseDestination(value: unknown, problems: string[]): Destination | undefined {
  if (!isObject(value)) {
    problems.push('destination should be an object with protocol and URI')
    return undefined
  }
  const { protocol } = value
  if (protocol !== 'HTTP' && protocol !== 'TCP') {
    problems.push('destination protocol should be HTTP or TCP')
    return undefined
  }
  if (protocol === 'TCP') {
    return parseTcpDestination(value, problems)
  }
  const method = value.method ?? 'POST'
  if (method !== 'POST' && method !== 'PUT') {
    problems.push('destination method should be POST or PUT')
    return undefined
  }
  if (typeof value.URI !== 'string' || value.URI === '') {
    problems.push('URI is not provided')
    return undefined
  }
  const uri = parseUri(value.URI, ['http'], problems)
  if (uri === undefined) {
    return undefined
  }
  return { protocol: 'HTTP', uri: value.URI, authority: uri.authority, port: uri.port, path: uri.path, method }
}

/** UNCONFIRMED how 2022-07-01 addresses TCP: the LMI schema's `port`, or a URI with a port. */
function parseTcpDestination(value: Record<string, unknown>, problems: string[]): Destination | undefined {
  if (value.port !== undefined) {
    const port = value.port
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      problems.push('port should be an integer between 1 and 65535')
      return undefined
    }
    if (port === SANDBOX_API_PORT) {
      problems.push(`port ${SANDBOX_API_PORT} is reserved`)
      return undefined
    }
    return { protocol: 'TCP', port }
  }
  if (typeof value.URI !== 'string' || value.URI === '') {
    problems.push('port is not provided')
    return undefined
  }
  const uri = parseUri(value.URI, ['tcp', 'http'], problems)
  return uri === undefined ? undefined : { protocol: 'TCP', port: uri.port }
}

const URI_PATTERN = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)([^#]*)(#.*)?$/

/** Hand-parsed, because WHATWG URL drops an explicit default port (":80") and the port is required. */
function parseUri(text: string, schemes: readonly string[], problems: string[]): { authority: string; port: number; path: string } | undefined {
  const match = URI_PATTERN.exec(text)
  if (match === null) {
    problems.push(`URI is not valid: ${JSON.stringify(text)}`)
    return undefined
  }
  const [, scheme = '', authority = '', rest = '', fragment] = match
  if (!schemes.includes(scheme.toLowerCase())) {
    problems.push(`URI scheme should be ${schemes.join(' or ')}`)
    return undefined
  }
  if (authority.includes('@') || fragment !== undefined) {
    problems.push(`URI is not valid: ${JSON.stringify(text)}`)
    return undefined
  }
  const hostPort = /^([^:]*)(?::(\d*))?$/.exec(authority)
  const host = (hostPort?.[1] ?? '').toLowerCase()
  if (!SANDBOX_HOSTS.includes(host)) {
    problems.push(`URI host should be sandbox.localdomain (got ${JSON.stringify(hostPort?.[1] ?? authority)})`)
    return undefined
  }
  const portText = hostPort?.[2]
  if (portText === undefined || portText === '') {
    problems.push('URI port is not provided')
    return undefined
  }
  const port = Number(portText)
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    problems.push('URI port should be between 1 and 65535')
    return undefined
  }
  if (port === SANDBOX_API_PORT) {
    problems.push(`port ${SANDBOX_API_PORT} is reserved`)
    return undefined
  }
  return { authority, port, path: rest === '' ? '/' : rest }
}
