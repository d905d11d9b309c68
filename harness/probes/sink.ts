// The sink probe: an HTTP collector on 127.0.0.1 standing in for a telemetry destination, so a test
// can ask "was every record delivered before exit?".
//
//   const sink = await SinkProbe.start()              // http://127.0.0.1:<free port>
//   spawn(..., { env: { SINK_URL: sink.url } })
//   await sink.waitFor((r) => r.records >= 3, 2000)   // resolves on the delivery that makes it true
//   const report = await sink.stop()                  // { requests, records, bytes, rejected, bodies }
//
// Every request is answered as soon as its body has been read: 200, or 413 past `maxBodyBytes`, or
// 400 for a body whose Content-Encoding does not decode. Records per body: a JSON array counts its
// elements, NDJSON (by content type, or several lines that each parse as JSON) its non-empty lines,
// an empty body 0, anything else 1. Memory is bounded: bodies are read up to `maxBodyBytes`, and
// only the last `keepBodies` are kept, each cut at `keepBodyBytes`.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import zlib from 'node:zlib'
import { readBody } from '../api/body.js'
import { invalid } from '../config/options.js'
import { HarnessError } from '../errors.js'

export interface SinkOptions {
  /** The largest body read; a bigger one is answered 413 and counted in `rejected`. Default 16 MiB. */
  readonly maxBodyBytes?: number
  /** How many of the most recent bodies `received().bodies` keeps. Default 100. */
  readonly keepBodies?: number
  /** How much of each kept body, in bytes of UTF-8. Default 64 KiB. */
  readonly keepBodyBytes?: number
  /** Called on every counted delivery, as it is answered (e.g. to put it on a timeline). */
  readonly onDelivery?: (delivery: SinkDelivery) => void
}

export interface SinkDelivery {
  readonly method: string
  readonly path: string
  readonly contentType: string | undefined
  /** Body bytes as sent (before Content-Encoding is undone). */
  readonly bytes: number
  readonly records: number
}

interface SinkReceived {
  /** Requests answered 200. */
  readonly requests: number
  readonly records: number
  /** Body bytes of those requests, as sent. */
  readonly bytes: number
  /** Requests answered 413 or 400, or abandoned mid-body by the client: not counted above. */
  readonly rejected: number
  /** The last `keepBodies` bodies (decoded, as UTF-8), oldest first, each cut at `keepBodyBytes`. */
  readonly bodies: readonly string[]
  /** Bodies counted but no longer kept. */
  readonly droppedBodies: number
}

const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
const DEFAULT_KEEP_BODIES = 100
const DEFAULT_KEEP_BODY_BYTES = 64 * 1024
const NDJSON_TYPES = /^application\/(x-)?(ndjson|jsonl|json-seq|jsonlines|x-jsonlines)\b/i

interface Waiter {
  readonly predicate: (received: SinkReceived) => boolean
  readonly resolve: (received: SinkReceived) => void
  readonly reject: (error: unknown) => void
}

export class SinkProbe {
  /** Listens on 127.0.0.1 on a free port. */
  static async start(options: SinkOptions = {}): Promise<RunningSink> {
    const limits = {
      maxBodyBytes: positiveInteger('maxBodyBytes', options.maxBodyBytes, DEFAULT_MAX_BODY_BYTES),
      keepBodies: positiveInteger('keepBodies', options.keepBodies, DEFAULT_KEEP_BODIES, 0),
      keepBodyBytes: positiveInteger('keepBodyBytes', options.keepBodyBytes, DEFAULT_KEEP_BODY_BYTES, 0),
    }
    const sink = new RunningSink(limits, options.onDelivery)
    await sink.listen()
    return sink
  }
}

export class RunningSink implements AsyncDisposable {
  readonly #server: Server
  readonly #limits: { maxBodyBytes: number; keepBodies: number; keepBodyBytes: number }
  readonly #onDelivery: ((delivery: SinkDelivery) => void) | undefined
  readonly #waiters = new Set<Waiter>()
  #url = ''
  #requests = 0
  #records = 0
  #bytes = 0
  #rejected = 0
  #bodies: string[] = []
  #droppedBodies = 0
  #stopping: Promise<SinkReceived> | undefined

  /** @internal Use SinkProbe.start(). */
  constructor(limits: { maxBodyBytes: number; keepBodies: number; keepBodyBytes: number }, onDelivery?: (delivery: SinkDelivery) => void) {
    this.#limits = limits
    this.#onDelivery = onDelivery
    this.#server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
      void this.#handle(req, res)
    })
  }

  /** @internal */
  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', (error: NodeJS.ErrnoException) => {
        reject(new HarnessError('ERR_PROBE_FAILED', `sink: cannot listen on 127.0.0.1 (${error.code ?? error.message})`, { cause: error }))
      })
      this.#server.listen(0, '127.0.0.1', () => resolve())
    })
    const { port } = this.#server.address() as AddressInfo
    this.#url = `http://127.0.0.1:${port}`
  }

  /** `http://127.0.0.1:<port>`: hand it to the processes (SINK_URL); any path is accepted. */
  get url(): string {
    return this.#url
  }

  /** A snapshot of what has arrived so far. */
  received(): SinkReceived {
    return {
      requests: this.#requests,
      records: this.#records,
      bytes: this.#bytes,
      rejected: this.#rejected,
      bodies: [...this.#bodies],
      droppedBodies: this.#droppedBodies,
    }
  }

  /**
   * Resolves with the snapshot as soon as `predicate` holds: now, or on the delivery that makes it
   * true. Rejects (ERR_PROBE_FAILED) after `timeoutMs`, on `signal`, or when the sink stops.
   */
  waitFor(predicate: (received: SinkReceived) => boolean, timeoutMs: number, options: { signal?: AbortSignal } = {}): Promise<SinkReceived> {
    if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0) {
      return Promise.reject(invalid('timeoutMs', 'a number of milliseconds, 0 or more', timeoutMs))
    }
    const now = this.received()
    if (predicate(now)) {
      return Promise.resolve(now)
    }
    if (this.#stopping !== undefined) {
      return Promise.reject(new HarnessError('ERR_PROBE_FAILED', `sink: stopped before the condition held (${summary(now)})`))
    }
    return new Promise<SinkReceived>((resolve, reject) => {
      const { signal } = options
      const finish = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        this.#waiters.delete(waiter)
      }
      const waiter: Waiter = {
        predicate,
        resolve: (received) => {
          finish()
          resolve(received)
        },
        reject: (error) => {
          finish()
          reject(error)
        },
      }
      const onAbort = (): void => waiter.reject(signal?.reason)
      const timer = setTimeout(() => {
        waiter.reject(new HarnessError('ERR_PROBE_FAILED', `sink: the condition did not hold within ${timeoutMs} ms (${summary(this.received())})`))
      }, timeoutMs)
      if (signal?.aborted === true) {
        onAbort()
        return
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#waiters.add(waiter)
    })
  }

  /** Closes the server (and every connection) and returns the final counts. Idempotent. */
  stop(): Promise<SinkReceived> {
    this.#stopping ??= (async () => {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()))
      this.#server.closeAllConnections()
      await closed
      const final = this.received()
      for (const waiter of [...this.#waiters]) {
        waiter.reject(new HarnessError('ERR_PROBE_FAILED', `sink: stopped before the condition held (${summary(final)})`))
      }
      return final
    })()
    return this.#stopping
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const body = await readBody(req, this.#limits.maxBodyBytes)
      if (body.kind === 'truncated') {
        this.#reject()
        return
      }
      if (body.kind === 'tooLarge') {
        this.#reject()
        answer(res, 413)
        return
      }
      const decoded = decode(body.body, req.headers['content-encoding'], this.#limits.maxBodyBytes)
      if (decoded === undefined) {
        this.#reject()
        answer(res, 400)
        return
      }
      const contentType = req.headers['content-type']
      const delivery: SinkDelivery = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        contentType,
        bytes: body.body.length,
        records: countRecords(decoded, contentType),
      }
      this.#count(delivery, decoded)
      answer(res, 200)
      this.#onDelivery?.(delivery)
    } catch {
      // Never let one bad request take the collector down; the client sees its connection end.
      this.#reject()
      res.destroy()
    }
  }

  #count(delivery: SinkDelivery, decoded: Buffer): void {
    this.#requests++
    this.#records += delivery.records
    this.#bytes += delivery.bytes
    if (this.#limits.keepBodies > 0) {
      this.#bodies.push(decoded.subarray(0, this.#limits.keepBodyBytes).toString('utf8'))
      if (this.#bodies.length > this.#limits.keepBodies) {
        this.#bodies.shift()
        this.#droppedBodies++
      }
    } else {
      this.#droppedBodies++
    }
    this.#notify()
  }

  #reject(): void {
    this.#rejected++
    this.#notify()
  }

  /** Settles every waiter whose condition now holds. */
  #notify(): void {
    if (this.#waiters.size === 0) {
      return
    }
    const now = this.received()
    for (const waiter of [...this.#waiters]) {
      try {
        if (waiter.predicate(now)) {
          waiter.resolve(now)
        }
      } catch (error) {
        waiter.reject(error)
      }
    }
  }
}

/**
 * Records in one body: a JSON array counts its elements; NDJSON its non-empty lines (when the
 * content type says so, or when there are several lines and each parses as JSON); an empty body 0;
 * anything else (one JSON object, text, bytes) 1.
 */
export function countRecords(body: Buffer, contentType?: string): number {
  const text = body.toString('utf8')
  if (text.trim() === '') {
    return 0
  }
  // json-seq (RFC 7464) starts each record with RS (0x1e).
  const lines = text.split(/\r?\n|\x1e/).filter((line) => line.trim() !== '')
  if (contentType !== undefined && NDJSON_TYPES.test(contentType)) {
    return lines.length
  }
  const whole = tryParse(text)
  if (whole.ok) {
    return Array.isArray(whole.value) ? whole.value.length : 1
  }
  if (lines.length > 1 && lines.every((line) => tryParse(line).ok)) {
    return lines.length
  }
  return 1
}

function tryParse(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown }
  } catch {
    return { ok: false }
  }
}

/** Undoes Content-Encoding (gzip, deflate, br) within `maxBytes`; undefined if it does not decode. */
function decode(body: Buffer, encoding: string | undefined, maxBytes: number): Buffer | undefined {
  const name = (encoding ?? 'identity').trim().toLowerCase()
  try {
    switch (name) {
      case '':
      case 'identity':
        return body
      case 'gzip':
      case 'x-gzip':
        return zlib.gunzipSync(body, { maxOutputLength: maxBytes })
      case 'deflate':
        return zlib.inflateSync(body, { maxOutputLength: maxBytes })
      case 'br':
        return zlib.brotliDecompressSync(body, { maxOutputLength: maxBytes })
      default:
        // An encoding we do not know: count the bytes as one opaque record.
        return body
    }
  } catch {
    return undefined
  }
}

function answer(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'content-length': '0', ...(status === 200 ? {} : { connection: 'close' }) })
  res.end()
}

function summary(received: SinkReceived): string {
  return `received ${received.requests} requests, ${received.records} records, ${received.bytes} bytes, ${received.rejected} rejected`
}

function positiveInteger(option: string, value: number | undefined, fallback: number, min = 1): number {
  if (value === undefined) {
    return fallback
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw invalid(`sink.${option}`, `a whole number, ${min} or more`, value)
  }
  return value
}
