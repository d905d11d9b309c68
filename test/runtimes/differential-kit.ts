// What a caller, an extension and CloudWatch see of one run, in a form two runtime clients can be
// compared by: the runtime's own Runtime API calls (through a recording proxy, so the raw
// Lambda-Runtime-Function-Error-Type header and bodies are seen byte for byte), the invoke results,
// Init, every line the runtime printed, Lambda's own log lines, the exits and the verdict.
import { createHash } from 'node:crypto'
import { Agent, createServer, request, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { PassThrough, type Duplex } from 'node:stream'
import type { Test } from 'tap'
import type { BootOptions, InvocationRecord, InvokeOptions, RunRecord, Sandbox, SandboxHooks } from '../../harness/index.js'
import { startSandbox } from '../helpers.js'

export interface RuntimeCall {
  readonly method: string
  readonly path: string
  readonly errorType: string | null
  readonly contentType: string | null
  /** The body, or its length and digest when it is big (the 6 MB case). */
  readonly body: string
}

/** Bodies above this are compared by length and digest. */
const BODY_INLINE_BYTES = 64 * 1024

/**
 * A loopback HTTP proxy in front of the sandbox's API server that records every call of the
 * runtime (the /runtime/ paths) as it left the client. The sandbox learns its address through
 * platformEnv; the upstream is the API server's current listener.
 */
/** One connection per request, made by `connect` (Agent takes a socket given later through the callback). */
class UpstreamAgent extends Agent {
  readonly #connect: () => Promise<Socket>

  constructor(connect: () => Promise<Socket>) {
    super({ keepAlive: false })
    this.#connect = connect
  }

  override createConnection(_options: unknown, done: (error: Error | null, socket: Duplex) => void): undefined {
    this.#connect().then(
      (socket) => done(null, socket),
      (error: Error) => done(error, new PassThrough()),
    )
    return undefined
  }
}

export class RecordingProxy {
  readonly calls: RuntimeCall[] = []
  /** A connection to the API server's current listener, as the sandbox's processes reach it (a reset renews it). */
  upstream: (() => Promise<Socket>) | undefined
  readonly #server: Server
  /** Connects into the sandbox's own network (its API is at 127.0.0.1:9001 there), or to the host's loopback. */
  readonly #agent = new UpstreamAgent(() => this.upstream?.() ?? Promise.reject(new Error('no upstream yet')))

  private constructor(server: Server) {
    this.#server = server
  }

  static async start(t: Test): Promise<RecordingProxy> {
    const server = createServer()
    const proxy = new RecordingProxy(server)
    server.on('request', (req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (chunk: Buffer) => chunks.push(chunk))
      req.on('end', () => {
        const body = Buffer.concat(chunks)
        proxy.#record(req, body)
        const forward = request({ method: req.method, path: req.url, headers: req.headers, agent: proxy.#agent }, (answer) => {
          // Raw headers: names keep their case (an extension may look Lambda-Extension-Identifier up as sent).
          res.writeHead(answer.statusCode ?? 502, answer.rawHeaders)
          answer.pipe(res)
        })
        forward.on('error', () => res.destroy())
        // A client that goes away (a runtime killed in /next) takes its upstream call with it.
        res.on('close', () => forward.destroy())
        forward.end(body)
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => {
      proxy.#agent.destroy()
      server.closeAllConnections()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    })
    return proxy
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port
  }

  get address(): string {
    return `127.0.0.1:${this.port}`
  }

  #record(req: IncomingMessage, body: Buffer): void {
    if (!(req.url ?? '').startsWith('/2018-06-01/runtime/')) {
      return
    }
    const header = (name: string) => (req.headers[name] === undefined ? null : String(req.headers[name]))
    this.calls.push({
      method: req.method ?? '',
      path: req.url ?? '',
      errorType: header('lambda-runtime-function-error-type'),
      contentType: header('content-type'),
      body: body.length > BODY_INLINE_BYTES ? `<${body.length} bytes, sha256 ${createHash('sha256').update(body).digest('hex')}>` : body.toString('utf8'),
    })
  }
}

/** One run as two clients must agree on it, after normalising what may differ between runs. */
export interface Observed {
  readonly init: unknown
  readonly invokes: unknown[]
  readonly calls: RuntimeCall[]
  /** The runtime's lines per stream: the order between its two pipes is the reader's, not the client's. */
  readonly stdout: string[]
  readonly stderr: string[]
  readonly platformLogs: string[]
  /** What the extensions printed (they print the events they got). */
  readonly extensions: string[]
  readonly exits: unknown[]
  readonly problems: string[]
}

/**
 * Boots the function with `options` through a recording proxy, runs `drive` (invokes), shuts down,
 * and returns what was observed. The sandbox's teardown (and leak check) is the test's.
 */
export async function observe(
  t: Test,
  options: Partial<BootOptions> & { functionDir: string },
  drive: (invoke: (event: unknown, options?: InvokeOptions) => Promise<InvocationRecord>) => Promise<void>,
  hooks: SandboxHooks = {},
): Promise<Observed> {
  const proxy = await RecordingProxy.start(t)
  let booted: Sandbox | undefined
  const sandbox = await startSandbox(
    t,
    // The proxy listens on the host: its port is relayed into a sandbox's own network.
    { ...options, platformEnv: { ...options.platformEnv, AWS_LAMBDA_RUNTIME_API: proxy.address }, hostPorts: [proxy.port] },
    {
      ...hooks,
      // Before boot() returns (Init) the hook's connect; after it, the listener of the day.
      onApiListening: (_address, connect) => {
        proxy.upstream = () => (booted === undefined ? connect() : booted.connectInside(Number(booted.runtimeApi.split(':')[1])))
      },
    },
  )
  booted = sandbox
  await drive((event, invokeOptions) => sandbox.invoke(event, invokeOptions))
  await sandbox.shutdown({ reason: 'spindown' })
  return normalised(sandbox.record, proxy.calls)
}

// What differs between any two runs, whichever client: request ids, timestamps, trace ids,
// durations and memory used, the log stream's random part, aws-lambda-cpp's millisecond stamp.
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g

function normaliser(record: RunRecord): (text: string) => string {
  const ids = new Map(record.invocations.map((invocation, index) => [invocation.requestId, `<request-${index}>`]))
  return (text) =>
    text
      .replace(UUID, (id) => ids.get(id) ?? '<uuid>')
      .replace(/\[\$LATEST\][0-9a-f]{32}/g, '[$LATEST]<stream>')
      .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z/g, '<time>')
      .replace(/Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16}/g, '<trace>')
      .replace(/\b(Duration|Billed Duration|Init Duration): [\d.]+ ms/g, '$1: <n> ms')
      .replace(/Max Memory Used: \d+ MB/g, 'Max Memory Used: <n> MB')
      .replace(/\[\d{13}\] LAMBDA_RUNTIME/g, '[<ms>] LAMBDA_RUNTIME')
      .replace(/"deadline_ms": \d+/g, '"deadline_ms": <n>')
      .replace(new RegExp(escape(record.function.dir), 'g'), '/var/task')
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/**
 * A Python traceback of the client's own crash names the client's files (our lambda_harness_ric,
 * awslambdaric's modules, runpy for -m): those frames are left out, the function's stay.
 */
export function ownFramesOut(lines: readonly string[]): string[] {
  const kept: string[] = []
  let skipping = false
  for (const line of lines) {
    const frame = /^\[stderr\] {3}File "([^"]+)"/.exec(line)
    if (frame !== null) {
      skipping = !frame[1]!.startsWith('/var/task/')
      if (skipping) {
        continue
      }
    } else if (skipping && /^\[stderr\] {5}/.test(line)) {
      continue
    } else {
      skipping = false
    }
    kept.push(line)
  }
  return kept
}

function normalised(record: RunRecord, calls: readonly RuntimeCall[]): Observed {
  const n = normaliser(record)
  const output = record.timeline.filter((e) => e.kind === 'output' && e.process === 'runtime').map((e) => n(e.detail))
  return {
    init: record.init === null ? null : { status: record.init.status, phase: record.init.phase, errorType: record.init.errorType },
    invokes: record.invocations.map((i) => ({
      status: i.status,
      errorType: i.errorType,
      functionError: i.functionError,
      contentType: i.contentType,
      response: i.response.length > BODY_INLINE_BYTES ? `<${i.response.length} chars>` : n(i.response),
      resetReason: i.resetReason,
      init: i.init === undefined ? undefined : { status: i.init.status, errorType: i.init.errorType },
    })),
    calls: calls.map((c) => ({ ...c, path: n(c.path), body: n(c.body) })),
    stdout: output.filter((line) => !line.startsWith('[stderr] ')),
    stderr: output.filter((line) => line.startsWith('[stderr] ')),
    extensions: record.timeline.filter((e) => e.kind === 'output' && e.process !== 'runtime').map((e) => `${e.process}: ${n(e.detail)}`),
    platformLogs: record.logs.map(n),
    exits: record.processes.filter((p) => p.kind === 'runtime').map((p) => ({ exit: p.exit, killed: p.killed })),
    problems: record.verdict.problems.map((p) => p.code).sort(),
  }
}
