// Request bodies, read with a ceiling: past it the rest is drained and only counted, so an
// oversized response costs no memory and the client still gets its 413.
import type { IncomingMessage } from 'node:http'

/**
 * One request header's value: the first when it was sent more than once, as Go's Header.Get reads
 * it (req.headers would join repeats into "a, b" and turn a valid identifier into an invalid one).
 */
export function header(req: IncomingMessage, name: string): string | undefined {
  return req.headersDistinct[name]?.[0]
}

export type BodyResult =
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
      resolve(size > limitBytes ? { kind: 'tooLarge', size } : { kind: 'complete', body: Buffer.concat(chunks, size) })
    })
    // The client went away mid-body (RAPID: TruncatedHTTPRequest); nobody is left to answer.
    req.on('aborted', () => resolve({ kind: 'truncated' }))
    req.on('error', () => resolve({ kind: 'truncated' }))
  })
}
