// The baseline's server: the least a loopback server must do to drive the same processes through
// the same HTTP calls as the harness (register, first /next, an invoke, SHUTDOWN), in the same
// order, with no validation, no state machines and no record. The harness's cost is what it adds
// on top of this.
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

const NEXT = '/2018-06-01/runtime/invocation/next'
const RESPONSE_PREFIX = '/2018-06-01/runtime/invocation/'
const REGISTER = '/2020-01-01/extension/register'
const EVENT_NEXT = '/2020-01-01/extension/event/next'

/** One caller's long poll: the pending request's response, and whoever waits for the next one. */
class Poll {
  #pending: ServerResponse | undefined
  #arrival: { promise: Promise<void>; resolve: () => void } | undefined
  #arrivals = 0

  get arrivals(): number {
    return this.#arrivals
  }

  arrived(res: ServerResponse): void {
    this.#pending = res
    this.#arrivals++
    const arrival = this.#arrival
    this.#arrival = undefined
    arrival?.resolve()
  }

  /** Settles when the caller has made `count` polls in all (at once if it already has). */
  reached(count: number): Promise<void> {
    if (this.#arrivals >= count) {
      return Promise.resolve()
    }
    return this.nextArrival().then(() => this.reached(count))
  }

  nextArrival(): Promise<void> {
    if (this.#arrival === undefined) {
      let resolve!: () => void
      const promise = new Promise<void>((r) => {
        resolve = r
      })
      this.#arrival = { promise, resolve }
    }
    return this.#arrival.promise
  }

  /** Answers the pending poll; false when there is none. */
  answer(status: number, headers: Record<string, string>, body: Buffer | string): boolean {
    const res = this.#pending
    this.#pending = undefined
    if (res === undefined) {
      return false
    }
    res.writeHead(status, { ...headers, 'Content-Length': String(Buffer.byteLength(body)) })
    res.end(body)
    return true
  }
}

export class TrivialServer {
  readonly #server: Server
  readonly runtime = new Poll()
  readonly #extensions = new Map<string, Poll>()
  #registered = 0
  #onRegister: (() => void) | undefined
  #responses = 0

  private constructor(server: Server) {
    this.#server = server
  }

  /** Listens on 127.0.0.1 of the host, or on `handle`: a listening socket made elsewhere (the bwrap floor's, inside its network). */
  static async start(handle?: object): Promise<TrivialServer> {
    // The harness's socket options, so Nagle or timeouts cannot tell the two apart.
    const server = createServer({ requestTimeout: 0, keepAliveTimeout: 10 * 60_000, noDelay: true })
    server.headersTimeout = 0
    const trivial = new TrivialServer(server)
    server.on('request', (req, res) => trivial.#handle(req, res))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      if (handle === undefined) {
        server.listen(0, '127.0.0.1', () => resolve())
      } else {
        server.listen(handle, () => resolve())
      }
    })
    return trivial
  }

  get address(): string {
    const { address, port } = this.#server.address() as AddressInfo
    return `${address}:${port}`
  }

  get extensions(): Poll[] {
    return [...this.#extensions.values()]
  }

  /** Settles once `count` extensions have registered. */
  registered(count: number): Promise<void> {
    if (this.#registered >= count) {
      return Promise.resolve()
    }
    return new Promise<void>((resolve) => {
      this.#onRegister = () => {
        if (this.#registered >= count) {
          this.#onRegister = undefined
          resolve()
        }
      }
    })
  }

  /** Settles when the runtime and every registered extension have polled once: Init is over. */
  ready(): Promise<void> {
    return Promise.all([this.runtime.reached(1), ...this.extensions.map((poll) => poll.reached(1))]).then(() => undefined)
  }

  /**
   * One invoke as the harness runs it: INVOKE to every extension, the event to the runtime, then
   * wait for the runtime's next /next (after its answer) and every extension's next poll.
   */
  async invoke(requestId: string, payload: Buffer, deadlineMs: number, arn: string, traceId: string): Promise<void> {
    const done = [this.runtime.nextArrival(), ...this.extensions.map((poll) => poll.nextArrival())]
    const extensionEvent = JSON.stringify({ eventType: 'INVOKE', deadlineMs, requestId, invokedFunctionArn: arn, tracing: { type: 'X-Amzn-Trace-Id', value: traceId } })
    for (const poll of this.extensions) {
      poll.answer(200, { 'Content-Type': 'application/json', 'Lambda-Extension-Event-Identifier': randomUUID() }, extensionEvent)
    }
    this.runtime.answer(
      200,
      {
        'Lambda-Runtime-Aws-Request-Id': requestId,
        'Lambda-Runtime-Deadline-Ms': String(deadlineMs),
        'Lambda-Runtime-Invoked-Function-Arn': arn,
        'Content-Type': 'application/json',
        'Lambda-Runtime-Trace-Id': traceId,
      },
      payload,
    )
    await Promise.all(done)
  }

  /** SHUTDOWN to every extension's pending poll. */
  shutdownExtensions(deadlineMs: number): void {
    const event = JSON.stringify({ eventType: 'SHUTDOWN', shutdownReason: 'spindown', deadlineMs })
    for (const poll of this.extensions) {
      poll.answer(200, { 'Content-Type': 'application/json', 'Lambda-Extension-Event-Identifier': randomUUID() }, event)
    }
  }

  get responses(): number {
    return this.#responses
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#server.close(() => resolve())
      this.#server.closeAllConnections()
    })
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? ''
    if (url === NEXT) {
      req.resume()
      this.runtime.arrived(res)
    } else if (url === EVENT_NEXT) {
      req.resume()
      this.#extensions.get(String(req.headers['lambda-extension-identifier']))?.arrived(res)
    } else if (url.startsWith(RESPONSE_PREFIX)) {
      // The body has to be read off the connection before the answer, as any server does.
      req.on('data', () => undefined)
      req.on('end', () => {
        this.#responses++
        res.writeHead(202, { 'Content-Type': 'application/json', 'Content-Length': '16' })
        res.end('{"status":"OK"}\n')
      })
    } else if (url === REGISTER) {
      req.on('data', () => undefined)
      req.on('end', () => {
        const id = randomUUID()
        this.#extensions.set(id, new Poll())
        this.#registered++
        const body = '{"functionName":"harness-function","functionVersion":"$LATEST","handler":"app.handler"}\n'
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(body.length), 'Lambda-Extension-Identifier': id })
        res.end(body)
        this.#onRegister?.()
      })
    } else {
      req.resume()
      res.writeHead(404, { 'Content-Length': '0' })
      res.end()
    }
  }
}
