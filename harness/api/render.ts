// How RAPID writes its answers: Go's json.Encoder (HTML escaping on, trailing newline).
import type { ServerResponse } from 'node:http'
import type { ApiRejection } from '../lifecycle/error-types.js'
import { statusOf } from './statuses.js'

const GO_HTML_ESCAPES: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
}

/** JSON.stringify, then the escapes Go's encoder applies, then its trailing "\n". */
function goJson(value: unknown): string {
  return `${JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => GO_HTML_ESCAPES[c] ?? c)}\n`
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  if (res.writableEnded || res.destroyed) {
    return
  }
  const body = goJson(value)
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) })
  res.end(body)
}

// The most frequent answer (every /response and /error), rendered once.
const ACCEPTED_BODY = goJson({ status: 'OK' })
const ACCEPTED_HEADERS = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(ACCEPTED_BODY) }

export function sendAccepted(res: ServerResponse): void {
  if (!res.writableEnded && !res.destroyed) {
    res.writeHead(202, ACCEPTED_HEADERS)
    res.end(ACCEPTED_BODY)
  }
}

export function sendRejection(res: ServerResponse, rejection: ApiRejection): void {
  sendJson(res, statusOf(rejection), { errorMessage: rejection.errorMessage, errorType: rejection.errorType })
}

/** Go's http.NotFound, which the chi router answers for unknown paths. */
export function sendNotFound(res: ServerResponse): void {
  if (!res.writableEnded && !res.destroyed) {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' })
    res.end('404 page not found\n')
  }
}

/** chi's answer for a known path with the wrong method. */
export function sendMethodNotAllowed(res: ServerResponse, allowed: string): void {
  if (!res.writableEnded && !res.destroyed) {
    res.writeHead(405, { Allow: allowed, 'Content-Length': 0 })
    res.end()
  }
}
