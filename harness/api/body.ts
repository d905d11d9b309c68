// Request bodies, read with a ceiling: past it the rest is drained and only counted, so an
// oversized response costs no memory and the client still gets its 413.
import type { IncomingMessage } from 'node:http'

/**
 * One request header's value: the first when it was sent more than once, as Go's Header.Get reads
 * it (req.headers would join repeats into "a, b" and turn a valid identifier into an invalid one).
 */
export function header(req: IncomingMessage, name: string): string | undefined {
  // req.headers is built for every request anyway (Node reads Host from it); it only differs from
  // the first value when Node joined repeats with ", ", so only then is headersDistinct (an array
  // per header, ~2 µs a request) worth building.
  const joined = req.headers[name]
  if (typeof joined === 'string' && !joined.includes(',')) {
    return joined
  }
  return req.headersDistinct[name]?.[0]
}

type BodyResult =
  | { readonly kind: 'complete'; readonly body: Buffer }
  | { readonly kind: 'tooLarge'; readonly size: number }
  | { readonly kind: 'truncated' }

export function readBody(req: IncomingMessage, limitBytes: number): Promise<BodyResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= limitBytes) {
        chunks.push(chunk)
      } else if (chunks.length > 0) {
        chunks.length = 0
      }
    })
    req.on('end', () => {
      // One chunk (every small body) needs no copy.
      const body = chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, size)
      resolve(size > limitBytes ? { kind: 'tooLarge', size } : { kind: 'complete', body })
    })
    // The client went away mid-body (RAPID: TruncatedHTTPRequest); nobody is left to answer.
    req.on('aborted', () => resolve({ kind: 'truncated' }))
    req.on('error', () => resolve({ kind: 'truncated' }))
  })
}

/**
 * Answers once the request's body has all been read (and dropped), and resolves with what
 * `answer` returned: an answer sent while a body is still arriving can be lost to a reset
 * (bench/findings.md, "Moved from the code (#18)"), which Go's server avoids by lingering.
 */
export function answerAfterBody<T>(req: IncomingMessage, answer: () => T): Promise<T> {
  if (req.complete) {
    return Promise.resolve(answer())
  }
  return new Promise((resolve) => {
    let answered = false
    const once = () => {
      if (!answered) {
        answered = true
        clearTimeout(timer)
        // After 'close' (the client went away) the send helpers see a destroyed response.
        resolve(answer())
      }
    }
    // A body that stops coming does not hold the answer for ever: Go answers such a request at
    // once; after this long the reset risk is the client's own doing.
    const timer = setTimeout(once, BODY_WAIT_MS)
    req.once('end', once)
    req.once('close', once)
    req.resume()
  })
}

/** How long an early answer waits for the rest of a body (answerAfterBody). */
const BODY_WAIT_MS = 2000
