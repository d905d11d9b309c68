// A seeded generator of requests to every API surface (Runtime, Extensions, Telemetry, Logs), each
// with the answer LAMBDA-SPEC §1–4 gives it, and a raw-socket client that can send what HTTP
// clients refuse to (bad methods, truncated and drip-fed bodies, oversized lines).
//
// The oracle knows the sandbox's state (the World) and computes the expected status and errorType
// from the request alone, in the order RAPID checks: route, method, identifier, body, state. It
// never produces a request that the spec would *accept* with a side effect (an answer for the
// current invoke, an exit/error, an /event/next that would take an event): such a request is
// rewritten into its refused neighbour, so the fuzz cannot legitimately disturb the sandbox.
import { connect } from 'node:net'
import { MAX_RESPONSE_BYTES } from '../../harness/lifecycle/runtime.js'

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

export class Rng {
  readonly #next: () => number
  constructor(seed: number) {
    this.#next = prng(seed)
  }
  float(): number {
    return this.#next()
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.#next() * (max - min + 1))
  }
  chance(p: number): boolean {
    return this.#next() < p
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#next() * items.length)] as T
  }
  /** A UUID drawn from the seed, so a rerun with the same seed sends the same bytes. */
  uuid(): string {
    const hex = Array.from({ length: 32 }, () => this.int(0, 15).toString(16))
    hex[12] = '4'
    hex[16] = this.pick(['8', '9', 'a', 'b'])
    const s = hex.join('')
    return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`
  }
  token(length: number, alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~'): string {
    return Array.from({ length }, () => alphabet[this.int(0, alphabet.length - 1)]).join('')
  }
}

/** An extension the test itself plays, whose identifier the fuzz may use. */
export interface KnownExtension {
  readonly id: string
  readonly name: string
  /** Ready: parked on /event/next. Running: holds an event it has not answered with /event/next. */
  readonly state: 'Ready' | 'Running'
}

/** What the oracle needs to know about the sandbox while a batch runs (no batch changes it). */
export interface World {
  /** idle: between invokes (the runtime parked on /next); invoking: the runtime holds the event. */
  readonly phase: 'idle' | 'invoking'
  /** The last invoke's request id: the runtime agent still knows it after the invoke ends. */
  readonly currentRequestId: string | undefined
  readonly staleRequestIds: readonly string[]
  readonly extensions: readonly KnownExtension[]
  /** The files of /opt/extensions (external agents, all past registration). */
  readonly externalNames: readonly string[]
}

/** How the bytes go out. */
export type Delivery =
  | { readonly kind: 'whole' }
  /** The request in `pieces` writes with a short pause between them (bounded: < 100 ms in all). */
  | { readonly kind: 'drip'; readonly pieces: number; readonly pauseMs: number }
  /** Content-Length claims `missing` more bytes than are sent, then the socket is closed. */
  | { readonly kind: 'truncate'; readonly missing: number }

export type Expected =
  /** An answer with this status (and errorType when the spec names one; null: no JSON error body). */
  | { readonly kind: 'answer'; readonly status: number; readonly errorType: string | null; readonly requestId?: string }
  /** Node's parser refuses the bytes: a bare 400 and a closed connection (Go would say 400 or 431). */
  | { readonly kind: 'parser' }
  /**
   * A body cut short: RAPID says 400 TruncatedHTTPRequest, but the client is gone. Documented set:
   * a clean close without an answer, the early answer `early` (a route that answers before it reads
   * the body: 404, 405, an unknown identifier), or 400.
   */
  | {
      readonly kind: 'truncated'
      readonly early: { readonly status: number; readonly errorType: string | null }
      /** A register body that cannot be read is a format error (RAPID reads it before parsing). */
      readonly unreadable?: { readonly status: number; readonly errorType: string }
    }

export interface FuzzRequest {
  /** A short name of what was generated, for failure messages. */
  readonly label: string
  readonly method: string
  readonly target: string
  readonly headers: readonly (readonly [string, string])[]
  readonly body: Buffer
  readonly delivery: Delivery
  readonly expected: Expected
  /** Set when a request the spec would accept was rewritten into its refused neighbour. */
  readonly rewritten?: string
  /** Raw request bytes to send instead of building them (parser-level garbage). */
  readonly raw?: Buffer
}

const MAX_REGISTER_BYTES = 64 * 1024
const MAX_SUBSCRIBE_BYTES = 1024 * 1024
/** Node's default --max-http-header-size: a longer request head is refused by the parser. */
const MAX_HEAD_BYTES = 16 * 1024

const RT = '/2018-06-01'
const EXT = '/2020-01-01'
const LOGS = '/2020-08-15'
const TEL = '/2022-07-01'
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'] as const
/** Methods Node's parser does not know (Go would route them and answer 405): a bare 400. */
const UNKNOWN_METHODS = ['get', 'FROB', 'BREW', 'G3T'] as const

const answer = (status: number, errorType: string | null = null): Expected => ({ kind: 'answer', status, errorType })
const NOT_FOUND = answer(404)
const NOT_ALLOWED = answer(405)

// ---- Bodies, each with what it is --------------------------------------------------------------

type RegisterBody = { bytes: Buffer; verdict: 'valid' | 'format' | 'eventType' }

function deep(depth: number, open: string, close: string, inner = '1'): string {
  return `${open.repeat(depth)}${inner}${close.repeat(depth)}`
}

function registerBody(rng: Rng): RegisterBody {
  const j = (value: unknown) => Buffer.from(JSON.stringify(value))
  const events = ['INVOKE', 'SHUTDOWN'].filter(() => rng.chance(0.5))
  switch (rng.int(0, 13)) {
    case 0:
      return { bytes: j({ events }), verdict: 'valid' }
    case 1:
      return { bytes: j({}), verdict: 'valid' }
    case 2:
      // null unmarshals into Go's []string as nil: no events, valid.
      return { bytes: Buffer.from('{"events":null,"extra":{"nested":[1,2,3]}}'), verdict: 'valid' }
    case 3:
      return { bytes: Buffer.alloc(0), verdict: 'format' }
    case 4:
      return { bytes: Buffer.from(rng.pick(['{not json', '{"events":["INVOKE"', 'nul', '"]', '\u0000\u0001', '{"events":[INVOKE]}'])), verdict: 'format' }
    case 5:
      return { bytes: j(rng.pick<unknown>([[], 42, 'INVOKE', null, true, ['INVOKE']])), verdict: 'format' }
    case 6:
      return { bytes: j({ events: rng.pick<unknown>(['INVOKE', 1, { INVOKE: true }, [1], ['INVOKE', 2]]) }), verdict: 'format' }
    case 7:
      return { bytes: j({ events, configurationKeys: ['A'] }), verdict: 'format' }
    case 8:
      return { bytes: j({ events: [...events, rng.pick(['invoke', 'FOO', '', 'SHUTDOWN ', 'LOGS'])] }), verdict: 'eventType' }
    case 9:
      // Deeply nested: never valid at the top, and never a stack overflow.
      return { bytes: Buffer.from(deep(rng.int(100, 20000), '[', ']')), verdict: 'format' }
    case 10:
      return { bytes: Buffer.from(`{"events":${deep(rng.int(100, 20000), '[', ']', '"INVOKE"')}}`), verdict: 'format' }
    case 11:
      // A deep but well-formed extra field is ignored, as Go's decoder ignores unknown fields.
      return { bytes: Buffer.from(`{"events":[],"x":${deep(rng.int(100, 10000), '{"a":', '}')}}`), verdict: 'valid' }
    case 12:
      // Past the 64 KiB a registration may be: refused unread.
      return { bytes: Buffer.from(`{"events":[],"pad":"${'p'.repeat(MAX_REGISTER_BYTES)}"}`), verdict: 'format' }
    default:
      return { bytes: Buffer.from(`{"events":${JSON.stringify(events)},"pad":"${'q'.repeat(rng.int(0, 60000))}"}`), verdict: 'valid' }
  }
}

function subscriptionBody(rng: Rng, api: 'telemetry' | 'logs'): { bytes: Buffer; valid: boolean } {
  const versions = api === 'telemetry' ? ['2022-07-01', '2022-12-13', '2025-01-29'] : ['2020-08-15', '2021-03-18']
  const port = rng.pick([1234, 4243, 8080, 65535, 1])
  const valid: Record<string, unknown> = {
    schemaVersion: rng.pick(versions),
    types: ['platform', 'function', 'extension'].filter((_, i) => i === 0 || rng.chance(0.5)),
    destination: rng.chance(0.8)
      ? { protocol: 'HTTP', URI: `http://${rng.pick(['sandbox.localdomain', 'sandbox', 'SANDBOX.localdomain'])}:${port}${rng.pick(['', '/', '/p?q=1'])}` }
      : { protocol: 'TCP', port },
  }
  if (rng.chance(0.5)) {
    valid.buffering = { maxItems: rng.int(1000, 10000), maxBytes: rng.int(262144, 1048576), timeoutMs: rng.int(25, 30000) }
  }
  if (api === 'logs' && rng.chance(0.3)) {
    delete valid.schemaVersion
  }
  const mutations: ((v: Record<string, unknown>) => unknown)[] = [
    (v) => ({ ...v, schemaVersion: rng.pick(['2020-01-01', '', 7, api === 'telemetry' ? '2020-08-15' : '2022-07-01']) }),
    (v) => ({ ...v, types: rng.pick<unknown>([[], undefined, ['platform', 'bogus'], ['function', 'function'], 'platform', [1]]) }),
    (v) => ({ ...v, buffering: { maxItems: rng.pick([999, 10001, 1500.5, '2000']) } }),
    (v) => ({ ...v, buffering: { maxBytes: rng.pick([262143, 1048577, -1]) } }),
    (v) => ({ ...v, buffering: { timeoutMs: rng.pick([24, 30001, 0, null]) } }),
    (v) => ({ ...v, buffering: rng.pick<unknown>([[], 'fast', 5]) }),
    (v) => ({ ...v, destination: rng.pick<unknown>([undefined, null, 'http://sandbox.localdomain:1', []]) }),
    (v) => ({ ...v, destination: { protocol: rng.pick(['HTTPS', 'UDP', 'http', '']), URI: 'http://sandbox.localdomain:1234' } }),
    (v) => ({ ...v, destination: { protocol: 'HTTP', method: rng.pick(['GET', 'DELETE', 'post']), URI: 'http://sandbox.localdomain:1234' } }),
    // Telemetry goes to this sandbox and nowhere else: any other host is refused.
    (v) => ({ ...v, destination: { protocol: 'HTTP', URI: `http://${rng.pick(['example.com', '127.0.0.1', 'localhost', '10.0.0.1', '169.254.169.254', 'sandbox.localdomain.evil.com', '[::1]'])}:8080/` } }),
    (v) => ({ ...v, destination: { protocol: 'HTTP', URI: rng.pick(['http://sandbox.localdomain/', 'http://sandbox.localdomain:9001/', 'http://sandbox.localdomain:0', 'http://sandbox.localdomain:70000', 'https://sandbox.localdomain:8080', 'http://user@sandbox.localdomain:8080', 'http://sandbox.localdomain:8080/#frag', 'not a uri', '']) } }),
    (v) => ({ ...v, destination: { protocol: 'TCP', port: rng.pick([0, 9001, 65536, '8080', 1.5]) } }),
    () => rng.pick<unknown>([[], 'OK', 1, null]),
    () => Symbol.for('not-json'),
    () => Symbol.for('deep'),
    () => Symbol.for('too-large'),
  ]
  if (rng.chance(0.35)) {
    return { bytes: Buffer.from(JSON.stringify(valid)), valid: true }
  }
  const mutated = rng.pick(mutations)({ ...valid })
  if (mutated === Symbol.for('not-json')) {
    return { bytes: Buffer.from(rng.pick(['', '{', '{"schemaVersion":', 'schemaVersion=2022-07-01'])), valid: false }
  }
  if (mutated === Symbol.for('deep')) {
    return { bytes: Buffer.from(`{"schemaVersion":"${versions[0]}","types":["platform"],"destination":${deep(rng.int(1000, 100000), '{"a":', '}')}}`), valid: false }
  }
  if (mutated === Symbol.for('too-large')) {
    return { bytes: Buffer.from(JSON.stringify({ ...valid, pad: 'x'.repeat(MAX_SUBSCRIBE_BYTES) })), valid: false }
  }
  return { bytes: Buffer.from(JSON.stringify(mutated) ?? ''), valid: false }
}

function runtimeBody(rng: Rng): Buffer {
  switch (rng.int(0, 9)) {
    case 0:
      return Buffer.alloc(0)
    case 1:
      return Buffer.from(rng.pick(['{', 'not json', '{"errorMessage":']))
    case 2:
      return Buffer.from(deep(rng.int(100, 50000), '[', ']'))
    case 3:
      return Buffer.from(Array.from({ length: rng.int(1, 2000) }, () => rng.int(0, 255)))
    case 4:
      return Buffer.from(JSON.stringify({ errorMessage: 'boom', errorType: 'KeyError', stackTrace: ['x'] }))
    default:
      return Buffer.from(JSON.stringify({ ok: rng.int(0, 1e6), s: rng.token(rng.int(0, 200)) }))
  }
}

// ---- Identifiers -------------------------------------------------------------------------------

type IdChoice = { header: string | undefined; agent: KnownExtension | undefined; problem: 'missing' | 'invalid' | 'unknown' | undefined; duplicate?: string }

function identifier(rng: Rng, world: World): IdChoice {
  const known = world.extensions
  switch (rng.int(0, 10)) {
    case 0:
    case 1:
    case 2: {
      const agent = rng.pick(known)
      // Go's uuid.Parse is case-insensitive and RAPID keys agents by the parsed value.
      return { header: rng.chance(0.2) ? agent.id.toUpperCase() : agent.id, agent, problem: undefined }
    }
    case 3:
      return { header: undefined, agent: undefined, problem: 'missing' }
    case 4:
      return { header: '', agent: undefined, problem: 'missing' }
    case 5:
      return { header: rng.uuid(), agent: undefined, problem: 'unknown' }
    case 6: {
      const agent = rng.pick(known)
      // Go's Header.Get takes the first of repeated headers.
      return { header: agent.id, agent, problem: undefined, duplicate: rng.pick(['garbage', rng.uuid()]) }
    }
    case 7:
      return { header: 'garbage', agent: undefined, problem: 'invalid', duplicate: rng.pick(known).id }
    case 8: {
      const agent = rng.pick(known)
      // The other forms Go's uuid.Parse takes: undashed, braced, urn: (its prefix in any case).
      const forms = [agent.id.replaceAll('-', ''), `{${agent.id}}`, `urn:uuid:${agent.id}`, `URN:UUID:${agent.id.toUpperCase()}`]
      return { header: rng.pick(forms), agent, problem: undefined }
    }
    default: {
      const id = rng.pick(known).id
      const garbage = [
        'xyz',
        `${id.replaceAll('-', '')}0`,
        `${id}0`,
        id.slice(1),
        `[${id}]`,
        `urn:uuid:${id}`.slice(0, 36),
        `urn:uid:${id}`,
        `${id.slice(0, 35)}g`,
        rng.token(rng.int(1, 100)),
        rng.token(rng.int(1000, 8000)),
        ' ',
      ]
      const header = rng.pick(garbage)
      // Node trims a header value, as Go does: a lone space is an empty (missing) identifier.
      return { header, agent: undefined, problem: header.trim() === '' ? 'missing' : 'invalid' }
    }
  }
}

function identifyExpectation(choice: IdChoice): Expected | undefined {
  switch (choice.problem) {
    case 'missing':
      return answer(403, 'Extension.MissingExtensionIdentifier')
    case 'invalid':
      return answer(403, 'Extension.InvalidExtensionIdentifier')
    case 'unknown':
      return answer(403, 'Extension.UnknownExtensionIdentifier')
    default:
      return undefined
  }
}

function idHeaders(choice: IdChoice): [string, string][] {
  const out: [string, string][] = []
  if (choice.header !== undefined) {
    out.push(['Lambda-Extension-Identifier', choice.header])
  }
  if (choice.duplicate !== undefined) {
    out.push(['Lambda-Extension-Identifier', choice.duplicate])
  }
  return out
}

// ---- Paths -------------------------------------------------------------------------------------

function requestIdChoice(rng: Rng, world: World): { id: string; current: boolean } {
  const roll = rng.int(0, 9)
  if (roll < 4 && world.currentRequestId !== undefined) {
    return { id: world.currentRequestId, current: true }
  }
  if (roll < 6 && world.staleRequestIds.length > 0) {
    return { id: rng.pick(world.staleRequestIds), current: false }
  }
  if (roll < 8) {
    return { id: rng.uuid(), current: false }
  }
  // URL-safe garbage: the parser takes it, the router finds no such request.
  const id = rng.pick(['%ZZ', '..', '.', '%2F', 'null', '0', rng.token(rng.int(1, 64)), rng.token(rng.int(2000, 9000)), "a'b(c)*", '%00', '%E2%82%AC'])
  return { id, current: false }
}

function nearMiss(rng: Rng, id: string): string {
  return rng.pick([
    `${RT}/runtime/invocation/next/`,
    `${RT}/runtime/invocation/NEXT`,
    `${RT}/runtime/invocation/n%65xt`,
    `${RT}/runtime/invocation`,
    `${RT}/runtime/invocation/`,
    `${RT}/runtime/invocation//response`,
    `${RT}/runtime/invocation/${id}/respond`,
    `${RT}/runtime/invocation/${id}/response/`,
    `${RT}/runtime/invocation/${id}/error/x`,
    `${RT}//runtime/invocation/next`,
    `${RT}/runtime/init/error/`,
    `${RT}/runtime/init`,
    `${RT}/runtime/restore/next`,
    `${RT}`,
    `${RT}/`,
    `/2018-06-02/runtime/invocation/next`,
    `${EXT}/extension/register/`,
    `${EXT}/extension/Register`,
    `${EXT}/extension/event/next/`,
    `${EXT}/extension/event`,
    `${EXT}/extension`,
    `${EXT}/extension/init/error/`,
    `${EXT}/extension/exit%2Ferror`,
    `${EXT}`,
    `${TEL}/telemetry/x`,
    `${TEL}/Telemetry`,
    `${TEL}/logs`,
    `${TEL}`,
    `${LOGS}/logs/x`,
    `${LOGS}/telemetry`,
    `${LOGS}`,
    `/2021-04-23/credentials`,
    `/`,
    `/ping`,
    `/%2e%2e/%2e%2e/etc/passwd`,
    `/../../etc/passwd`,
  ])
}

function randomPath(rng: Rng): string {
  const segments = Array.from({ length: rng.int(0, 6) }, () => rng.token(rng.int(0, 12), 'abcdefghijklmnopqrstuvwxyz0123456789-._~%20!$&\'()*+,;=:@'))
  const prefix = rng.pick(['', RT, EXT, TEL, LOGS, '/2099-01-01'])
  return `${prefix}/${segments.join('/')}`
}

// ---- The generator ------------------------------------------------------------------------------

export interface Generated {
  readonly request: FuzzRequest
  readonly surface: 'runtime' | 'extensions' | 'telemetry' | 'logs' | 'other' | 'parser'
}

/**
 * One request and its expected answer. `big` allows a body past 6 MB (kept rare by the caller:
 * each costs 6 MB of loopback traffic).
 */
export function generate(rng: Rng, world: World, big: boolean): Generated {
  const roll = rng.float()
  let generated: Generated
  if (big || roll < 0.3) {
    generated = runtimeRequest(rng, world, big)
  } else if (roll < 0.58) {
    generated = extensionsRequest(rng, world)
  } else if (roll < 0.78) {
    generated = telemetryRequest(rng, world)
  } else if (roll < 0.93) {
    generated = otherRequest(rng, world)
  } else {
    generated = parserRequest(rng)
  }
  return { ...generated, request: withDelivery(rng, generated.request) }
}

interface Draft {
  label: string
  method: string
  target: string
  headers: [string, string][]
  body: Buffer
  expected: Expected
  rewritten?: string
}

function done(surface: Generated['surface'], draft: Draft): Generated {
  return { surface, request: { ...draft, delivery: { kind: 'whole' } } }
}

/** A wrong method for a route: another known one (405) or one the parser refuses. */
function methodFor(rng: Rng, allowed: string): { method: string; expected?: Expected } {
  if (rng.chance(0.75)) {
    return { method: allowed }
  }
  if (rng.chance(0.15)) {
    return { method: rng.pick(UNKNOWN_METHODS), expected: { kind: 'parser' } }
  }
  const method = rng.pick(METHODS.filter((m) => m !== allowed))
  return { method, expected: NOT_ALLOWED }
}

function runtimeRequest(rng: Rng, world: World, big: boolean): Generated {
  const which = big ? 5 : rng.int(0, 9)
  const query = rng.chance(0.1) ? `?${rng.token(rng.int(1, 30))}=${rng.token(5)}` : ''
  if (which <= 2) {
    const { method, expected } = methodFor(rng, 'GET')
    const draft: Draft = { label: `runtime next ${method}`, method, target: `${RT}/runtime/invocation/next${query}`, headers: [], body: rng.chance(0.1) ? runtimeBody(rng) : Buffer.alloc(0), expected: expected ?? answer(0) }
    if (expected === undefined) {
      // Between invokes the runtime is Ready and parked on /next: a second /next is refused. During
      // an invoke RAPID re-renders the same event (Running → Running), which changes nothing.
      draft.expected =
        world.phase === 'idle'
          ? answer(403, 'InvalidStateTransition')
          : { kind: 'answer', status: 200, errorType: null, ...(world.currentRequestId === undefined ? {} : { requestId: world.currentRequestId }) }
    }
    return done('runtime', draft)
  }
  if (which === 9) {
    return done('runtime', { label: 'runtime near-miss', method: rng.pick(['GET', 'POST']), target: nearMiss(rng, rng.uuid()).replace(/^\/20(?!18)[^/]*/, RT), headers: [], body: Buffer.alloc(0), expected: NOT_FOUND })
  }
  const kind = rng.pick(['response', 'error', 'init'] as const)
  const { method, expected } = big ? { method: 'POST', expected: undefined } : methodFor(rng, 'POST')
  // Only with the right method: a route that refuses early closes on a 6 MB body it never reads.
  const huge = big && expected === undefined
  const size = huge && rng.chance(0.6) ? rng.pick([MAX_RESPONSE_BYTES + 1, MAX_RESPONSE_BYTES + rng.int(2, 300000)]) : huge ? MAX_RESPONSE_BYTES : -1
  const body = size >= 0 ? Buffer.alloc(size, 0x61) : runtimeBody(rng)
  const tooLarge = body.length > MAX_RESPONSE_BYTES
  const headers: [string, string][] = []
  if (rng.chance(0.7)) {
    headers.push(['Content-Type', rng.pick(['application/json', 'application/vnd.aws.lambda.error+json', 'text/plain', 'application/octet-stream', rng.token(20)])])
  }
  if (rng.chance(0.3)) {
    headers.push(['Lambda-Runtime-Function-Error-Type', rng.pick(['Function.Boom', 'Runtime.X', 'KeyError', rng.token(30)])])
  }
  if (kind === 'init') {
    const draft: Draft = { label: `runtime init/error ${method} ${body.length}B`, method, target: `${RT}/runtime/init/error${query}`, headers, body, expected: expected ?? answer(0) }
    // Init is over (the runtime called /next long ago): Ready (or Running) → InitError is refused.
    draft.expected = expected ?? (tooLarge ? answer(413, 'RequestEntityTooLarge') : answer(403, 'InvalidStateTransition'))
    return done('runtime', draft)
  }
  const { id, current } = requestIdChoice(rng, world)
  const mode = rng.chance(0.15) ? rng.pick(['streaming', 'buffered', 'STREAMING', rng.token(8)]) : undefined
  if (mode !== undefined && kind === 'response') {
    headers.push(['Lambda-Runtime-Function-Response-Mode', mode])
  }
  const draft: Draft = { label: `runtime ${kind} ${method} id=${current ? 'current' : id.slice(0, 12)} ${body.length}B`, method, target: `${RT}/runtime/invocation/${id}/${kind}${query}`, headers, body, expected: answer(0) }
  if (expected !== undefined) {
    draft.expected = expected
    return done('runtime', draft)
  }
  if (current && world.phase === 'invoking') {
    // The spec would take this answer for the invoke the test is holding: never send it.
    const stale = rng.uuid()
    draft.target = `${RT}/runtime/invocation/${stale}/${kind}${query}`
    draft.rewritten = 'the current request id during an invoke'
    draft.label = `runtime ${kind} POST id=random(rewritten) ${body.length}B`
    draft.expected = answer(400, 'InvalidRequestID')
    return done('runtime', draft)
  }
  // RAPID's AwsRequestIDValidator middleware runs before the handler: the id first, then the
  // handler's own checks (response mode, size), then the state.
  if (!current) {
    draft.expected = answer(400, 'InvalidRequestID')
  } else if (kind === 'response' && mode !== undefined && mode !== 'streaming') {
    draft.expected = answer(400, 'InvalidFunctionResponseMode')
  } else if (kind === 'error' && tooLarge) {
    draft.expected = answer(413, 'RequestEntityTooLarge')
  } else {
    // The id is the last invoke's, which is over: the runtime is Ready.
    draft.expected = answer(403, 'InvalidStateTransition')
  }
  return done('runtime', draft)
}

function extensionsRequest(rng: Rng, world: World): Generated {
  const route = rng.pick(['register', 'register', 'event/next', 'event/next', 'init/error', 'exit/error', 'near'] as const)
  if (route === 'near') {
    return done('extensions', { label: 'extensions near-miss', method: rng.pick(['GET', 'POST']), target: nearMiss(rng, rng.uuid()), headers: [], body: Buffer.alloc(0), expected: NOT_FOUND })
  }
  const allowed = route === 'event/next' ? 'GET' : 'POST'
  const { method, expected } = methodFor(rng, allowed)
  const target = `${EXT}/extension/${route}${rng.chance(0.05) ? '?x=1' : ''}`
  if (route === 'register') {
    const body = registerBody(rng)
    const names = [...world.externalNames, ...world.extensions.map((e) => e.name)]
    const nameRoll = rng.int(0, 9)
    const name = nameRoll < 3 ? rng.pick(names) : nameRoll < 5 ? undefined : nameRoll === 5 ? '' : nameRoll === 6 ? rng.token(rng.int(2000, 8000)) : rng.token(rng.int(1, 40))
    const headers: [string, string][] = name === undefined ? [] : [['Lambda-Extension-Name', name]]
    if (rng.chance(0.3)) {
      headers.push(['Lambda-Extension-Accept-Feature', rng.pick(['accountId', 'accountId,foo', ' accountId ', 'nope', ''])])
    }
    if (rng.chance(0.5)) {
      headers.push(['Content-Type', rng.pick(['application/json', 'text/plain'])])
    }
    const draft: Draft = { label: `register ${method} name=${(name ?? '(none)').slice(0, 16)} body=${body.verdict}/${body.bytes.length}B`, method, target, headers, body: body.bytes, expected: expected ?? answer(0) }
    if (expected === undefined) {
      // The router reads the body first (a body past 64 KiB is not a registration), then RAPID's
      // order: the name, the body, then who is registering. Init is over, so nobody may.
      if (body.bytes.length > MAX_REGISTER_BYTES) {
        draft.expected = answer(403, 'InvalidRequestFormat')
      } else if (name === undefined || name.trim() === '') {
        draft.expected = answer(403, 'Extension.InvalidExtensionName')
      } else if (body.verdict === 'format') {
        draft.expected = answer(403, 'InvalidRequestFormat')
      } else if (body.verdict === 'eventType') {
        draft.expected = answer(403, 'Extension.InvalidEventType')
      } else if (world.externalNames.includes(name)) {
        // An external file's agent is past Registered.
        draft.expected = answer(403, 'Extension.InvalidExtensionState')
      } else {
        // Any other name would be a new internal extension: registration closed at the runtime's first /next.
        draft.expected = answer(403, 'Extension.RegistrationClosed')
      }
    }
    return done('extensions', draft)
  }
  const id = identifier(rng, world)
  const headers = idHeaders(id)
  const errorType = route !== 'event/next' && rng.chance(0.6) ? rng.pick(['Extension.Broken', 'x', rng.token(40)]) : undefined
  if (errorType !== undefined) {
    headers.push(['Lambda-Extension-Function-Error-Type', errorType])
  }
  const body = rng.chance(0.3) ? runtimeBody(rng) : Buffer.alloc(0)
  const draft: Draft = { label: `${route} ${method} id=${id.problem ?? id.agent?.name}${id.duplicate === undefined ? '' : '+dup'}`, method, target, headers, body, expected: expected ?? answer(0) }
  if (expected !== undefined) {
    return done('extensions', draft)
  }
  const refused = identifyExpectation(id)
  if (refused !== undefined) {
    draft.expected = refused
    return done('extensions', draft)
  }
  const agent = id.agent as KnownExtension
  if (route === 'event/next') {
    if (agent.state === 'Running') {
      // Running → Ready would hand the fuzz this extension's next event: never send it. The
      // identifier becomes one nobody registered.
      const unknown = rng.uuid()
      draft.headers = [['Lambda-Extension-Identifier', unknown]]
      draft.rewritten = 'the identifier of an extension that holds an event'
      draft.label = 'event/next GET id=unknown(rewritten)'
      draft.expected = answer(403, 'Extension.UnknownExtensionIdentifier')
    } else {
      // Ready (parked on /event/next): a second /event/next is an illegal transition.
      draft.expected = answer(403, 'Extension.InvalidExtensionState')
    }
    return done('extensions', draft)
  }
  if (errorType === undefined) {
    draft.expected = answer(403, 'Extension.MissingHeader')
  } else if (route === 'init/error') {
    // Only from Registered; these agents are Ready or Running.
    draft.expected = answer(403, 'Extension.InvalidExtensionState')
  } else {
    // exit/error is accepted from Ready and Running and ends the extension: never send it.
    draft.headers = draft.headers.filter(([name]) => name !== 'Lambda-Extension-Function-Error-Type')
    draft.rewritten = 'exit/error with a live identifier and an error type'
    draft.label = 'exit/error POST id=valid, error type dropped (rewritten)'
    draft.expected = answer(403, 'Extension.MissingHeader')
  }
  return done('extensions', draft)
}

function telemetryRequest(rng: Rng, world: World): Generated {
  const api = rng.pick(['telemetry', 'logs'] as const)
  const prefix = api === 'telemetry' ? TEL : LOGS
  const route = rng.pick(['', '', '', '/'])
  const { method, expected } = methodFor(rng, 'PUT')
  const id = identifier(rng, world)
  const body = subscriptionBody(rng, api)
  const headers = idHeaders(id)
  if (rng.chance(0.7)) {
    headers.push(['Content-Type', rng.pick(['application/json', 'text/plain', ''])])
  }
  const draft: Draft = {
    label: `${api} ${method} id=${id.problem ?? id.agent?.name} body=${body.valid ? 'valid' : 'invalid'}/${body.bytes.length}B`,
    method,
    target: `${prefix}/${api}${route}`,
    headers,
    body: body.bytes,
    expected: expected ?? answer(0),
  }
  if (expected !== undefined) {
    return done(api, draft)
  }
  const refused = identifyExpectation(id)
  const validation = api === 'telemetry' ? 'ValidationError' : 'Logs.ValidationError'
  // Validation first, then the Init check (RIE LMI subscription_api.go); Init is over.
  draft.expected = refused ?? (body.valid ? answer(403, api === 'telemetry' ? 'Telemetry.SubscriptionClosed' : 'Logs.SubscriptionClosed') : answer(400, validation))
  return done(api, draft)
}

function otherRequest(rng: Rng, world: World): Generated {
  const roll = rng.int(0, 3)
  if (roll === 0) {
    return done('other', { label: 'near-miss', method: rng.pick(METHODS), target: nearMiss(rng, world.currentRequestId ?? rng.uuid()), headers: [], body: Buffer.alloc(0), expected: NOT_FOUND })
  }
  if (roll === 1) {
    // Long but under Node's header limit: routed like any other path.
    const target = `/${rng.pick(['2099-01-01', 'x', '2018-06-01x'])}/${'a'.repeat(rng.int(1000, MAX_HEAD_BYTES - 2000))}`
    return done('other', { label: `long path ${target.length}B`, method: rng.pick(['GET', 'POST']), target, headers: [], body: Buffer.alloc(0), expected: NOT_FOUND })
  }
  const target = randomPath(rng)
  return done('other', { label: `random ${target.slice(0, 40)}`, method: rng.pick(METHODS), target, headers: [], body: rng.chance(0.2) ? runtimeBody(rng) : Buffer.alloc(0), expected: expectForRandom(target) })
}

/** A random path rarely hits a route; when it does, its answer is known without any state. */
function expectForRandom(target: string): Expected {
  const known = [`${RT}/runtime/invocation/next`, `${RT}/runtime/init/error`, `${EXT}/extension/register`, `${EXT}/extension/event/next`, `${EXT}/extension/init/error`, `${EXT}/extension/exit/error`, `${TEL}/telemetry`, `${LOGS}/logs`]
  const path = target.split('?')[0] as string
  if (known.some((k) => path === k || path === `${k}/`) || /^\/2018-06-01\/runtime\/invocation\/[^/]+\/(response|error)$/.test(path)) {
    throw new Error(`random path ${target} hit a route; pick another seed or extend the oracle`)
  }
  return NOT_FOUND
}

/** Bytes no HTTP client would send: the parser refuses them with a bare 400. */
function parserRequest(rng: Rng): Generated {
  const host = 'Host: 127.0.0.1\r\n'
  const cases = [
    () => `${rng.pick(UNKNOWN_METHODS)} ${RT}/runtime/invocation/next HTTP/1.1\r\n${host}\r\n`,
    () => `GET /${'x'.repeat(MAX_HEAD_BYTES + rng.int(1, 20000))} HTTP/1.1\r\n${host}\r\n`,
    () => `GET ${EXT}/extension/event/next HTTP/1.1\r\n${host}Lambda-Extension-Identifier: ${'a'.repeat(MAX_HEAD_BYTES + 100)}\r\n\r\n`,
    () => `GET ${RT}/runtime/invocation/next HTTP/1.1\r\n${host}Bad Header: x\r\n\r\n`,
    () => `GET ${RT}/runtime/invocation/next HTTP/1.1\r\n${host}X-Ctl: a\u0001b\r\n\r\n`,
    () => `POST ${RT}/runtime/init/error HTTP/1.1\r\n${host}Content-Length: ${rng.pick(['-1', 'abc', '1.5', '99999999999999999999'])}\r\n\r\n`,
    () => `POST ${RT}/runtime/init/error HTTP/1.1\r\n${host}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    () => `GET ${RT}/runtime/invocation/next HTTP/9.9\r\n${host}\r\n`,
    () => `GET ${RT}/runtime/invocation next HTTP/1.1\r\n${host}\r\n`,
    () => `NOT HTTP AT ALL\r\n\r\n`,
    // HTTP/1.1 without Host: Node refuses it as Go does (400).
    () => `GET ${RT}/runtime/invocation/next HTTP/1.1\r\n\r\n`,
    () => Buffer.from(Array.from({ length: rng.int(1, 300) }, () => rng.int(0, 255))).toString('latin1') + '\r\n\r\n',
  ]
  const index = rng.int(0, cases.length - 1)
  const text = (cases[index] as () => string)()
  // Random bytes can spell a valid request line by chance only with a vanishing probability; a
  // leading "GET /" is the one way in, so such a draw is kept out.
  const bytes = Buffer.from(/^[A-Z]+ \//.test(text) && index === cases.length - 1 ? `\u0000${text}` : text, 'latin1')
  return {
    surface: 'parser',
    request: { label: `parser case ${index}`, method: '', target: '', headers: [], body: Buffer.alloc(0), raw: bytes, delivery: { kind: 'whole' }, expected: { kind: 'parser' } },
  }
}

function withDelivery(rng: Rng, request: FuzzRequest): FuzzRequest {
  const roll = rng.float()
  if (roll < 0.06 && request.raw === undefined && request.body.length > 0 && request.body.length < 1_000_000 && request.expected.kind === 'answer' && request.method !== 'HEAD') {
    const early = request.expected
    const unreadable = request.target.startsWith(`${EXT}/extension/register`) ? { status: 403, errorType: 'InvalidRequestFormat' } : undefined
    return {
      ...request,
      label: `${request.label} truncated`,
      delivery: { kind: 'truncate', missing: rng.int(1, 5000) },
      expected: { kind: 'truncated', early: { status: early.status, errorType: early.errorType }, ...(unreadable === undefined ? {} : { unreadable }) },
    }
  }
  if (roll < 0.14) {
    return { ...request, label: `${request.label} drip`, delivery: { kind: 'drip', pieces: rng.int(2, 8), pauseMs: rng.int(1, 10) } }
  }
  return request
}

// ---- The raw client ----------------------------------------------------------------------------

export interface Observed {
  readonly kind: 'answer' | 'closed' | 'timeout' | 'error'
  readonly status?: number
  readonly headers?: Record<string, string>
  readonly body?: Buffer
  readonly detail?: string
  readonly ms: number
}

export function requestBytes(host: string, request: FuzzRequest): Buffer {
  if (request.raw !== undefined) {
    return request.raw
  }
  const claimed = request.body.length + (request.delivery.kind === 'truncate' ? request.delivery.missing : 0)
  const lines = [`${request.method} ${request.target} HTTP/1.1`, `Host: ${host}`, ...request.headers.map(([name, value]) => `${name}: ${value}`)]
  if (claimed > 0 || request.method === 'POST' || request.method === 'PUT') {
    lines.push(`Content-Length: ${claimed}`)
  }
  // One request per connection: the end of the answer is the server closing it.
  lines.push('Connection: close')
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), request.body])
}

/** Sends one request on its own socket and reads until the server closes it or the deadline. */
export function send(address: string, request: FuzzRequest, deadlineMs: number): Promise<Observed> {
  const [host = '127.0.0.1', port = '0'] = address.split(':')
  const bytes = requestBytes(address, request)
  const started = performance.now()
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let settled = false
    const socket = connect(Number(port), host)
    const finish = (kind: Observed['kind'], detail?: string) => {
      if (settled) {
        return
      }
      settled = true
      clearTimeout(timer)
      socket.destroy()
      const ms = performance.now() - started
      const raw = Buffer.concat(chunks)
      if (raw.length === 0) {
        resolve({ kind: kind === 'error' ? 'closed' : kind, ms, ...(detail === undefined ? {} : { detail }) })
        return
      }
      resolve({ ...parseResponse(raw), ms })
    }
    const timer = setTimeout(() => finish('timeout'), deadlineMs)
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('end', () => finish('closed'))
    socket.on('close', () => finish('closed'))
    // ECONNRESET after the server refused mid-body: what was read so far still counts.
    socket.on('error', (error) => finish('error', (error as NodeJS.ErrnoException).code))
    socket.on('connect', () => {
      void write(socket, bytes, request.delivery)
    })
  })
}

async function write(socket: import('node:net').Socket, bytes: Buffer, delivery: Delivery): Promise<void> {
  const put = (chunk: Buffer) =>
    new Promise<void>((resolve) => {
      if (socket.destroyed) {
        resolve()
        return
      }
      socket.write(chunk, () => resolve())
    })
  if (delivery.kind === 'drip') {
    const size = Math.ceil(bytes.length / delivery.pieces)
    for (let offset = 0; offset < bytes.length && !socket.destroyed; offset += size) {
      await put(bytes.subarray(offset, offset + size))
      // The pause is the request itself (a slow client), not a wait for state.
      await new Promise((resolve) => setTimeout(resolve, delivery.pauseMs))
    }
    return
  }
  await put(bytes)
  if (delivery.kind === 'truncate' && !socket.destroyed) {
    // Half-close: the server sees the end of the stream short of Content-Length, and may still answer.
    socket.end()
  }
}

function parseResponse(raw: Buffer): Omit<Observed, 'ms'> {
  const headEnd = raw.indexOf('\r\n\r\n')
  if (headEnd === -1) {
    return { kind: 'error', detail: `no header end in ${JSON.stringify(raw.subarray(0, 80).toString('latin1'))}` }
  }
  const [statusLine = '', ...headerLines] = raw.subarray(0, headEnd).toString('latin1').split('\r\n')
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)
  if (match === null) {
    return { kind: 'error', detail: `bad status line ${JSON.stringify(statusLine)}` }
  }
  const headers: Record<string, string> = {}
  for (const line of headerLines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  let body = raw.subarray(headEnd + 4)
  if (headers['transfer-encoding'] === 'chunked') {
    body = dechunk(body)
  } else if (headers['content-length'] !== undefined) {
    body = body.subarray(0, Number(headers['content-length']))
  }
  return { kind: 'answer', status: Number(match[1]), headers, body }
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = []
  let offset = 0
  while (offset < data.length) {
    const lineEnd = data.indexOf('\r\n', offset)
    if (lineEnd === -1) {
      break
    }
    const size = parseInt(data.subarray(offset, lineEnd).toString('latin1'), 16)
    if (!(size > 0)) {
      break
    }
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size))
    offset = lineEnd + 2 + size + 2
  }
  return Buffer.concat(parts)
}

/** The errorType of a JSON error body, or null when the body is not one. */
export function errorTypeOf(body: Buffer | undefined): string | null {
  if (body === undefined || body.length === 0) {
    return null
  }
  try {
    const value = JSON.parse(body.toString('utf8')) as { errorType?: unknown }
    return typeof value?.errorType === 'string' ? value.errorType : null
  } catch {
    return null
  }
}

/** Whether what came back is what the oracle said; a failure message otherwise. */
export function judge(request: FuzzRequest, observed: Observed): string | undefined {
  const expected = request.expected
  if (observed.kind === 'timeout') {
    return `no answer and no close within the deadline (${observed.ms.toFixed(0)} ms)`
  }
  const got = observed.kind === 'answer' ? `${observed.status} ${errorTypeOf(observed.body) ?? '-'}` : `${observed.kind}${observed.detail === undefined ? '' : ` ${observed.detail}`}`
  if (expected.kind === 'parser') {
    return observed.kind === 'answer' && observed.status === 400 ? undefined : `expected the parser's bare 400, got ${got}`
  }
  if (expected.kind === 'truncated') {
    if (observed.kind === 'closed') {
      return undefined
    }
    const type = errorTypeOf(observed.body)
    const matches = (answer: { status: number; errorType: string | null } | undefined) => answer !== undefined && observed.status === answer.status && type === answer.errorType
    if (observed.kind === 'answer' && (observed.status === 400 || matches(expected.early) || matches(expected.unreadable))) {
      return undefined
    }
    return `expected a close, 400 or the early ${expected.early.status} ${expected.early.errorType ?? '-'} for a truncated body, got ${got}`
  }
  if (observed.kind !== 'answer') {
    return `expected ${expected.status} ${expected.errorType ?? '-'}, got ${got}`
  }
  if (observed.status !== expected.status || errorTypeOf(observed.body) !== expected.errorType) {
    return `expected ${expected.status} ${expected.errorType ?? '-'}, got ${got}`
  }
  if (expected.requestId !== undefined && observed.headers?.['lambda-runtime-aws-request-id'] !== expected.requestId) {
    return `expected the re-rendered event of ${expected.requestId}, got request id ${observed.headers?.['lambda-runtime-aws-request-id']}`
  }
  return undefined
}
