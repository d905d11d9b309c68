// How a batch reaches a subscriber: an HTTP POST of a JSON array (undici), or NDJSON over TCP.
// The destination's host is `sandbox.localdomain` (or `sandbox`); that is always the sandbox's own
// 127.0.0.1, so the connection goes there (through a SandboxConnect into a bwrap sandbox's own
// network) and the host only travels in the Host header. No other address is ever contacted.
import { createHash } from 'node:crypto'
import { Socket } from 'node:net'
import type { Agent, Dispatcher } from 'undici'
import type { Destination } from './subscription.js'

export const SANDBOX_ADDRESS = '127.0.0.1'

/** Opens a connection to a port of the sandbox's own 127.0.0.1 (inside its network namespace, if it has one). */
export type SandboxConnect = (port: number, signal: AbortSignal) => Promise<Socket>

/** The host's loopback: a sandbox that shares the host's network. */
export const connectLoopback: SandboxConnect = (port, signal) =>
  new Promise((resolve, reject) => {
    const socket = new Socket()
    const onError = (error: Error) => {
      signal.removeEventListener('abort', onAbort)
      socket.destroy()
      reject(error)
    }
    const onAbort = () => onError(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
    signal.addEventListener('abort', onAbort, { once: true })
    socket.once('error', onError)
    socket.connect(port, SANDBOX_ADDRESS, () => {
      signal.removeEventListener('abort', onAbort)
      socket.removeListener('error', onError)
      resolve(socket)
    })
  })

export interface Transport {
  /** Resolves once the subscriber took the batch (2xx, or written to the socket); rejects otherwise. */
  send(events: readonly string[], signal: AbortSignal): Promise<void>
  close(): void
  /** For the record: `HTTP http://sandbox.localdomain:4243/`, `TCP :4243`. */
  readonly description: string
}

type Undici = typeof import('undici')
let undici: Promise<Undici> | undefined

/**
 * undici is ~110 CommonJS files, ~200 ms of a fresh process's first boot (more under load), and
 * only an HTTP subscriber needs it: it is loaded when the first one subscribes. Its connections
 * are opened by `connect`, within `connectTimeoutMs`.
 */
export function httpAgent(options: Agent.Options, connect: SandboxConnect = connectLoopback, connectTimeoutMs = 10_000): Promise<Agent> {
  return loadUndici().then(
    ({ Agent }) =>
      new Agent({
        ...options,
        connect: (to, callback) => {
          // A timer of our own: an AbortSignal.timeout() nothing else references can be collected
          // before it fires, and a listener that never accepts (a full backlog) holds a connect for minutes.
          const controller = new AbortController()
          const timer = setTimeout(() => controller.abort(new Error(`connect to port ${to.port} timed out after ${connectTimeoutMs} ms`)), connectTimeoutMs)
          connect(Number(to.port), controller.signal).then(
            (socket) => {
              clearTimeout(timer)
              callback(null, socket)
            },
            (error: Error) => {
              clearTimeout(timer)
              callback(error, null)
            },
          )
        },
      }),
  )
}

function loadUndici(): Promise<Undici> {
  undici ??= import('undici')
  return undici
}

/** `dispatcher`: the hub's agent (httpAgent), asked for by HTTP destinations only. */
export function createTransport(destination: Destination, dispatcher: () => Promise<Dispatcher>, connect: SandboxConnect = connectLoopback): Transport {
  return destination.protocol === 'HTTP' ? new HttpTransport(destination, dispatcher()) : new TcpTransport(destination.port, connect)
}

/** RIE LMI's Sequence-Id: base64 of the body's SHA-256. */
function sequenceId(body: string): string {
  return createHash('sha256').update(body).digest('base64')
}

class HttpTransport implements Transport {
  readonly description: string
  readonly #destination: Extract<Destination, { protocol: 'HTTP' }>
  readonly #dispatcher: Promise<Dispatcher>
  readonly #url: string

  constructor(destination: Extract<Destination, { protocol: 'HTTP' }>, dispatcher: Promise<Dispatcher>) {
    this.#destination = destination
    this.#dispatcher = dispatcher
    this.#url = `http://${SANDBOX_ADDRESS}:${destination.port}${destination.path}`
    this.description = `HTTP ${destination.uri}`
  }

  async send(events: readonly string[], signal: AbortSignal): Promise<void> {
    const body = `[${events.join(',')}]`
    const [{ request }, dispatcher] = await Promise.all([loadUndici(), this.#dispatcher])
    const response = await request(this.#url, {
      method: this.#destination.method,
      dispatcher,
      signal,
      headers: { host: this.#destination.authority, 'content-type': 'application/json', 'sequence-id': sequenceId(body) },
      body,
    })
    // Read the answer off the connection so it can be reused.
    const answer = await response.body.text()
    if (response.statusCode < 200 || response.statusCode >= 300) {
      throw new Error(`http request failed with status ${response.statusCode}: ${answer.slice(0, 200)}`)
    }
  }

  close(): void {
    // The dispatcher belongs to the hub and is closed with it.
  }
}

class TcpTransport implements Transport {
  readonly description: string
  readonly #port: number
  readonly #connect: SandboxConnect
  #socket: Socket | undefined

  constructor(port: number, connect: SandboxConnect) {
    this.#port = port
    this.#connect = connect
    this.description = `TCP sandbox.localdomain:${port}`
  }

  async send(events: readonly string[], signal: AbortSignal): Promise<void> {
    const socket = await this.#connected(signal)
    const payload = events.map((event) => `${event}\n`).join('')
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        socket.destroy()
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      socket.write(payload, (error) => {
        signal.removeEventListener('abort', onAbort)
        if (error) {
          this.#drop()
          reject(error)
        } else {
          resolve()
        }
      })
    })
  }

  async #connected(signal: AbortSignal): Promise<Socket> {
    const current = this.#socket
    if (current !== undefined && !current.destroyed && current.writable) {
      return current
    }
    const socket = await this.#connect(this.#port, signal)
    // Later errors (the subscriber went away) surface on the next write.
    const forget = () => {
      if (this.#socket === socket) {
        this.#socket = undefined
      }
    }
    socket.on('error', forget)
    socket.on('close', forget)
    this.#socket = socket
    return socket
  }

  #drop(): void {
    this.#socket?.destroy()
    this.#socket = undefined
  }

  close(): void {
    this.#drop()
  }
}
