// One loopback HTTP server per sandbox, with a router per surface under its version prefix,
// the way RAPID serves every API from one listener (rapi/server.go).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { HarnessError } from '../errors.js'
import { isRejection } from '../lifecycle/error-types.js'
import { Members } from '../wait/index.js'
import { answerAfterBody, header } from './body.js'
import { handleExtensions } from './extensions-router.js'
import type { PlatformPort } from './port.js'
import { sendJson, sendNotFound } from './render.js'
import { handleRuntime } from './runtime-router.js'
import { handleTelemetry } from './telemetry-router.js'

export const RUNTIME_PREFIX = '/2018-06-01'
export const EXTENSIONS_PREFIX = '/2020-01-01'
export const LOGS_PREFIX = '/2020-08-15'
export const TELEMETRY_PREFIX = '/2022-07-01'

interface InFlight {
  readonly method: string
  readonly path: string
  readonly atMs: number
  readonly server: Server
  /** Kept so a call still unanswered at close (a pending /event/next) can be named. */
  readonly extensionId: string | undefined
  /** Takes it off the calls in flight. */
  leave: () => void
}

const NOT_YET = (): void => undefined

/**
 * A listening socket to serve on, made elsewhere: a bwrap sandbox's 127.0.0.1:9001, inside its own
 * network (isolation/network.ts). Without one the server listens on a free port of the host's loopback.
 */
export type ListenSource = () => Promise<object>

export class ApiServer {
  #server!: Server
  readonly #port: PlatformPort
  readonly #source: ListenSource | undefined
  readonly #inFlight = new Members<InFlight>()
  #closing: Promise<void> | undefined
  /** Earlier generations' listeners, bound until close() (see renew). */
  readonly #retired: Server[] = []

  private constructor(port: PlatformPort, source: ListenSource | undefined) {
    this.#port = port
    this.#source = source
  }

  /** Listens on 127.0.0.1 only: on a free port, or on the socket `source` gives. */
  static async start(port: PlatformPort, source?: ListenSource): Promise<ApiServer> {
    const api = new ApiServer(port, source)
    api.#server = await api.#listen()
    return api
  }

  #listen(): Promise<Server> {
    const holder: { server?: Server } = {}
    return listen((req, res) => this.#handle(req, res, holder.server), this.#source).then((server) => {
      server.on('connection', (socket: Socket) => this.#port.connected?.(socket))
      // After listening, an 'error' is accept() failing (EMFILE): the harness's fault, reported, never a crash.
      server.on('error', (error: NodeJS.ErrnoException) => this.#port.harnessFault?.(error))
      return (holder.server = server)
    })
  }

  /**
   * A fresh listener for a new generation, the old one's connections closed: a request a killed
   * process wrote just before it died must not reach the processes that replace it (it did,
   * under load, when both shared one listener). The old listener stays bound, answering nothing
   * (#handle drops whatever still reaches it), until the sandbox closes: its port, in the
   * AWS_LAMBDA_RUNTIME_API of every process of that generation, must not be handed to another
   * sandbox meanwhile, or plain mode's final sweep (which finds escaped processes by that
   * variable) would kill the other sandbox's processes (it did, in CI: a port freed by a renew
   * went to the sandbox of the test running beside it).
   */
  async renew(): Promise<void> {
    const old = this.#server
    if (this.#source !== undefined) {
      // A sandbox's own 127.0.0.1:9001: no other sandbox can be given it, and the next listener
      // needs its port. Closing the old one resets what a killed process left in its backlog.
      this.#dropListener(old)
      this.#server = await this.#listen()
      return
    }
    this.#server = await this.#listen()
    this.#dropListener(old, 'keep bound')
    this.#retired.push(old)
  }

  /** host:port, as AWS_LAMBDA_RUNTIME_API has it (no scheme). */
  get address(): string {
    const { address, port } = this.#server.address() as AddressInfo
    return `${address}:${port}`
  }

  /** The extension that made a call, when its identifier still names one. */
  #callerOf(entry: InFlight): string | undefined {
    const agent = entry.extensionId === undefined ? undefined : this.#port.extensions.identify(entry.extensionId)
    return agent === undefined || isRejection(agent) ? undefined : agent.name
  }

  #dropListener(server: Server, keep?: 'keep bound'): void {
    for (const entry of this.#inFlight.values()) {
      if (entry.server === server) {
        entry.leave()
        const runtime = entry.path.startsWith(RUNTIME_PREFIX)
        this.#port.apiCall({ ...entry, surface: runtime ? 'runtime' : 'extensions', caller: runtime ? 'runtime' : this.#callerOf(entry), status: 0 })
      }
    }
    if (keep === undefined) {
      server.close()
    }
    server.closeAllConnections()
  }

  #handle(req: IncomingMessage, res: ServerResponse, server: Server | undefined): void {
    if (server === undefined || server !== this.#server) {
      // A late request on a listener of an earlier generation: its sender is gone.
      req.socket.destroy()
      return
    }
    const url = req.url ?? '/'
    const query = url.indexOf('?')
    const fullPath = query === -1 ? url : url.slice(0, query)
    const entry: InFlight = {
      method: req.method ?? 'GET',
      path: fullPath,
      atMs: this.#port.now(),
      server,
      extensionId: header(req, 'lambda-extension-identifier'),
      leave: NOT_YET,
    }
    entry.leave = this.#inFlight.add(entry)
    void this.#route(req, res, fullPath).then(
      (outcome) => {
        entry.leave()
        // Spelt out: spreading two objects of different shapes was ~25 µs of every call.
        const { surface, caller, status, errorType } = outcome
        this.#port.apiCall({ surface, caller, status, errorType, method: entry.method, path: entry.path, atMs: entry.atMs })
      },
      (error: unknown) => {
        // A bug of ours must not take the server down: the caller gets a 500 (RAPID's "container
        // error": the runtime should exit) and the record keeps the evidence.
        entry.leave()
        sendJson(res, 500, { errorMessage: String((error as Error)?.message ?? error), errorType: 'Sandbox.Failure' })
        this.#port.apiCall({ ...entry, surface: 'unknown', caller: undefined, status: 500, errorType: 'Sandbox.Failure' })
      },
    )
  }

  async #route(
    req: IncomingMessage,
    res: ServerResponse,
    fullPath: string,
  ): Promise<{ surface: 'runtime' | 'extensions' | 'telemetry' | 'unknown'; caller: string | undefined; status: number; errorType?: string }> {
    if (fullPath.startsWith(`${RUNTIME_PREFIX}/`)) {
      // Known before the call waits (a /next may be answered after its caller is gone).
      const caller = this.#port.runtimeCaller?.(req.socket) ?? 'runtime'
      const outcome = await handleRuntime(req, res, fullPath.slice(RUNTIME_PREFIX.length), this.#port)
      return { surface: 'runtime', caller, ...outcome }
    }
    if (fullPath.startsWith(`${EXTENSIONS_PREFIX}/`)) {
      const outcome = await handleExtensions(req, res, fullPath.slice(EXTENSIONS_PREFIX.length), this.#port)
      return { surface: 'extensions', caller: outcome.caller, status: outcome.status, ...(outcome.errorType === undefined ? {} : { errorType: outcome.errorType }) }
    }
    for (const [prefix, api] of [[TELEMETRY_PREFIX, 'telemetry'], [LOGS_PREFIX, 'logs']] as const) {
      if (fullPath.startsWith(`${prefix}/`)) {
        const outcome = await handleTelemetry(req, res, api, fullPath.slice(prefix.length), this.#port)
        return { surface: 'telemetry', caller: outcome.caller, status: outcome.status, ...(outcome.errorType === undefined ? {} : { errorType: outcome.errorType }) }
      }
    }
    await answerAfterBody(req, () => sendNotFound(res))
    return { surface: 'unknown', caller: undefined, status: 404 }
  }

  /** Stops listening and drops every connection, including /next calls that were never answered. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      const server = this.#server
      server.once('close', () => resolve())
      for (const retired of this.#retired.splice(0)) {
        this.#dropListener(retired)
      }
      this.#dropListener(server)
    })
    return this.#closing
  }
}

/** An HTTP server configured for long polls, listening on 127.0.0.1 on a free port (or on `source`'s socket). */
async function listen(onRequest: (req: IncomingMessage, res: ServerResponse) => void, source: ListenSource | undefined): Promise<Server> {
  const server = createServer({
    // /next is a long poll that may wait for minutes between invokes: no request timeout.
    requestTimeout: 0,
    keepAliveTimeout: 10 * 60_000,
    noDelay: true,
  })
  server.headersTimeout = 0
  server.timeout = 0
  server.on('request', onRequest)
  // A client that sends garbage gets Node's 400 and a closed socket, never a crash.
  server.on('clientError', (_error, socket) => {
    if (socket.writable) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')
    } else {
      socket.destroy()
    }
  })
  const handle = source === undefined ? undefined : await source().catch((error: Error) => {
    throw new HarnessError('ERR_SERVER', `could not listen on the sandbox's 127.0.0.1: ${error.message}`, { cause: error })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new HarnessError('ERR_SERVER', `could not listen on 127.0.0.1: ${error.message}`, { cause: error })))
    if (handle === undefined) {
      server.listen(0, '127.0.0.1', () => resolve())
    } else {
      server.listen(handle, () => resolve())
    }
  })
  return server
}
