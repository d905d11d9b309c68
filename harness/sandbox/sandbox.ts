// The Sandbox: one execution environment. It owns the API server, the current generation of
// processes and the record, serialises phases, and turns failures into resets as Lambda does.
import { randomBytes, randomFillSync, randomUUID } from 'node:crypto'
import { readdirSync, realpathSync, statSync } from 'node:fs'
import type { Socket } from 'node:net'
import path from 'node:path'
import { ApiServer } from '../api/server.js'
import type { ApiCall, FunctionInfo, PlatformPort, TelemetryPort } from '../api/port.js'
import { validateOptions, type BootOptions, type ParsedOptions, type ShutdownReason, SHUTDOWN_REASONS, invalid, SINK_URL_PLACEHOLDER } from '../config/options.js'
import { SANDBOX_API_PORT, extensionEnvironment, runtimeEnvironment } from '../config/environment.js'
import { lifecycleWarnings } from '../config/profiles.js'
import { preflight } from '../config/preflight.js'
import { HarnessError } from '../errors.js'
import type { ExtensionAgent, ExtensionRegistry } from '../lifecycle/extensions.js'
import { MAX_EXTENSIONS } from '../lifecycle/extensions.js'
import { CALLER_TIMEOUT_ERROR_TYPE, platformErrorBody, timeoutMessage } from '../lifecycle/error-types.js'
import type { ExtensionEvent, InvokeEvent } from '../lifecycle/events.js'
import type { RuntimeAgent } from '../lifecycle/runtime.js'
import { PYTHON_BOOTSTRAP } from '../paths.js'
import { Recorder, roundMs } from '../record/recorder.js'
import type { InvocationRecord, RunRecord, ShutdownRecord, TimelineEntry } from '../record/run-record.js'
import { initProblem, resetProblem, shutdownProblems } from '../record/verdict.js'
import type { SpawnSpec, SupervisedProcess } from '../supervisor/supervisor.js'
import { descendants, isLive } from '../supervisor/process-groups.js'
import { Generation, type ExtensionFile, type Fatal } from './generation.js'
import { daemonOwner } from './daemons.js'
import { RuntimeCallers } from './callers.js'
import { pythonInfo, requireImportable, type PythonInfo } from './python-info.js'
import { runtimeCommandOf, runtimeSpec } from './runtime-spec.js'
import { NO_BOOTSTRAP_MESSAGE } from '../config/runtime-files.js'
import { openImage, type OpenedImage } from './image.js'
import { SandboxResources } from './resources.js'
import { prepareLayers, type PreparedLayers } from '../layers/layers.js'
import { PostgresProbe } from '../probes/postgres.js'
import { OwnConnections, processesWithEnvironment, uptimeTicks } from '../probes/processes.js'
import { startIsolation, type Isolation, type IsolationInput } from '../isolation/isolation.js'
import { atFdLimit, ownFdLimit } from './fd-limit.js'
import { TelemetryHub } from '../telemetry/hub.js'
import { connectLoopback } from '../telemetry/transport.js'

export const HARNESS_VERSION = '0.1.0'

/** The Invoke API's synchronous request limit (6 MiB). */
export const MAX_REQUEST_BYTES = 6291456

export interface InvokeOptions {
  /** Send these bytes as the event instead of JSON-encoding `event`. */
  readonly payload?: Buffer | string
  readonly contentType?: string
  /** JSON text for Lambda-Runtime-Client-Context. */
  readonly clientContext?: string
  readonly cognitoIdentity?: string
  readonly tenantId?: string
}

export interface ShutdownOptions {
  readonly reason?: ShutdownReason
}

export interface SandboxHooks {
  /** Where warnings go as they happen (the CLI prints them on stderr). Default: nowhere. */
  readonly warn?: (message: string) => void
  /**
   * Called with host:port as soon as the API server listens, before Init (e.g. to act as a
   * process), and how to open a connection to it as the processes do (a bwrap sandbox's API is
   * in its own network, out of the host's reach).
   */
  readonly onApiListening?: (runtimeApi: string, connect: () => Promise<Socket>) => void
  /**
   * Called with each timeline entry as it is recorded (an API call, an event, a signal, an exit, an
   * output line), synchronously: to follow a run live or to act at an exact point of it. It must
   * not throw; what it throws is reported through `warn` and otherwise ignored.
   */
  readonly onTimeline?: (entry: TimelineEntry) => void
}

export class Sandbox implements AsyncDisposable, PlatformPort {
  readonly #options: ParsedOptions
  readonly #recorder: Recorder
  readonly #controller = new AbortController()
  readonly #extensionFiles: ExtensionFile[]
  readonly #python: PythonInfo | undefined
  #server!: ApiServer
  #resources: SandboxResources | undefined
  #current!: Generation
  #live = false
  /** Init duration to report on the first invoke after a cold (not suppressed) Init. */
  #coldInitMs: number | undefined
  readonly #telemetry: TelemetryHub
  readonly #functionArn: string
  /** Our API's connections, so the evidence read before a SIGKILL can skip them (probes/processes.ts). */
  readonly #ownConnections = new OwnConnections(() => this.#tcpTable())
  readonly #runtimeCallers = new RuntimeCallers(() => this.#tcpTable(), (socket) => this.#ownConnections.inodeOf(socket))
  #generations = 0
  #queue: Promise<unknown> = Promise.resolve()
  #shutDown = false
  #disposing: Promise<void> | undefined
  /** bwrap namespaces or plain processes; set first thing in boot's try. */
  #isolation: Isolation | undefined
  /** What the isolation was started from: a sandbox whose holder died is rebuilt from it. */
  #isolationInput: IsolationInput | undefined
  /** Set once the harness ran out of its own descriptors: the cause, for the verdict. */
  #outOfFds: string | undefined
  /** The holder losses already in the verdict (one problem per lost sandbox). */
  readonly #lossesRecorded = new Set<Isolation>()
  #layers: PreparedLayers | undefined
  /**
   * Every AWS_LAMBDA_RUNTIME_API this sandbox handed out (each generation listens afresh, and the
   * server keeps every port bound until it closes), and from when, in clock ticks since the host
   * booted: a process started earlier carried the address for a sandbox that had the port before.
   */
  readonly #apiAddresses: { readonly address: string; readonly sinceTicks: number }[] = []
  /** The processes of generations that have ended: in plain mode their launchers may hold daemons. */
  readonly #ended: SupervisedProcess[] = []

  private constructor(options: ParsedOptions, python: PythonInfo | undefined, extensionFiles: ExtensionFile[], recorder: Recorder) {
    this.#options = options
    this.#python = python
    this.#extensionFiles = extensionFiles
    this.#recorder = recorder
    this.#functionArn = `arn:aws:lambda:${options.region}:${options.accountId}:function:${options.functionName}`
    this.#telemetry = new TelemetryHub({
      recorder,
      options: options.telemetry,
      // Lambda's own names: python:3.12.v38, provided:al2023.v25.
      runtimeName: options.profile.pythonVersion === null ? options.profile.id.replace('.', ':') : `python:${options.profile.pythonVersion}`,
      region: options.region,
      freezes: options.freeze,
      connect: (port, signal) => this.connectInside(port, signal),
    })
  }

  /** Validates, starts the API server, and runs Init. A failed Init is recorded, not thrown. */
  static async boot(options: BootOptions, hooks: SandboxHooks = {}): Promise<Sandbox> {
    // Zips are unpacked first (to private temp folders) so validation only ever sees folders.
    const layers = await prepareLayers(Array.isArray(options.layers) ? options.layers : [], { option: 'layers' })
    let parsed: ParsedOptions
    let extensionFiles: ExtensionFile[]
    let python: PythonInfo | undefined
    let image: OpenedImage | undefined
    const skipped: string[] = []
    try {
      parsed = validateOptions({ ...options, ...(options.layers === undefined ? {} : { layers: layers.layers.map((layer) => layer.root) }) })
      extensionFiles = listExtensions(parsed, (folder) => skipped.push(folder))
      image = parsed.image === undefined ? undefined : await openImage({ ...parsed, image: parsed.image })
      // An OS-only runtime runs the function's bootstrap: no interpreter of ours is involved.
      python = image !== undefined ? image.python : parsed.runtimeCommand === undefined && parsed.profile.family === 'python' ? await pythonInfo(parsed.python) : undefined
      if (parsed.runtimeClient === 'awslambdaric') {
        await requireImportable(python?.executable || parsed.python, 'awslambdaric', 'runtimeClient')
      }
      if (parsed.preflight) {
        preflight(parsed, extensionFiles, python?.sysPath, image?.image.root)
      }
    } catch (error) {
      await layers.cleanup()
      throw error
    }
    const warnings = [...parsed.warnings, ...lifecycleWarnings(parsed.profile, new Date()), ...interpreterWarnings(parsed, python), ...skipped.map(folderWarning)]
    for (const warning of warnings) {
      hooks.warn?.(warning)
    }
    const { onTimeline } = hooks
    const recorder = new Recorder({
      version: HARNESS_VERSION,
      warnings,
      mode: parsed.record,
      ...(onTimeline === undefined ? {} : { onEntry: (entry: TimelineEntry) => callHook(onTimeline, entry, hooks.warn) }),
      runtime: {
        profile: parsed.profile.id,
        executionEnv: parsed.profile.executionEnv,
        os: parsed.profile.os,
        command: runtimeCommandOf(parsed, PYTHON_BOOTSTRAP),
        python: python === undefined ? null : { command: python.command, version: python.version, boto3: python.boto3, botocore: python.botocore },
      },
      function: {
        dir: parsed.functionDir,
        handler: parsed.handler,
        name: parsed.functionName,
        timeoutMs: parsed.timeoutMs,
        memoryMB: parsed.memoryMB,
        ...(parsed.template === undefined
          ? {}
          : { template: { file: parsed.template.file, logicalId: parsed.template.logicalId, fromTemplate: [...parsed.template.fromTemplate] } }),
      },
    })
    const sandbox = new Sandbox(parsed, python, extensionFiles, recorder)
    sandbox.#layers = layers
    try {
      // The namespace (~15–25 ms, most of an isolated boot's own cost) is made while the
      // resources open and the API server starts listening: none needs another, Init needs all.
      sandbox.#isolationInput = {
        mode: parsed.isolation,
        functionDir: parsed.functionDir,
        layers: parsed.layers,
        ephemeralStorageMB: parsed.ephemeralStorageMB,
        ...(image === undefined ? {} : { imageRoot: image.image.root, imageRuntime: parsed.runtimeClient === 'image' }),
        // Debian's interpreter starts fastest; the user's works too (the launcher is standard library).
        launcherPythons: ['/usr/bin/python3', ...(python === undefined ? [] : [python.executable]), parsed.python],
        hostFiles:
          parsed.runtimeCommand !== undefined
            ? [{ option: 'runtimeCommand', path: parsed.runtimeCommand[0] ?? '' }]
            : python === undefined
              ? []
              : [{ option: 'python', path: python.executable || parsed.python }],
        identity: parsed.sandboxUser,
        exposed: [...parsed.expose, ...(image === undefined ? interpreterPaths(python) : [])],
      }
      const isolating = startIsolation(sandbox.#isolationInput).then((started) => {
        sandbox.#isolation = started.isolation
        return started
      })
      const probe = parsed.postgres
      const opening = (async () => {
        sandbox.#resources = await SandboxResources.open(
          {
            postgres: typeof probe === 'boolean' || probe instanceof PostgresProbe ? probe : invalidProbe(probe),
            postgresBinDir: parsed.postgresBinDir,
            sink: parsed.sink,
          },
          `${parsed.functionName}_${randomBytes(3).toString('hex')}`,
        )
      })()
      // Inside a sandbox's own network the API is at 127.0.0.1:9001 there, as on Lambda.
      const listening = isolating.then(async ({ isolation: { network } }) => {
        // The current sandbox's network: a holder that died is replaced with its network (#renewIsolation).
        sandbox.#server = await ApiServer.start(sandbox, network === undefined ? undefined : () => sandbox.#listenInside())
      })
      // Every part that started is kept (dispose ends it) before the first failure is thrown.
      const failed = (await Promise.allSettled([isolating, opening, listening])).find((result) => result.status === 'rejected')
      if (failed !== undefined) {
        throw failed.reason
      }
      const { isolation, warning } = await isolating
      await sandbox.#relayPorts()
      if (warning !== undefined) {
        hooks.warn?.(warning)
        recorder.record.warnings.push(warning)
      }
      recorder.add('phase', isolation.description)
      hooks.onApiListening?.(sandbox.#server.address, () => sandbox.connectInside(Number(sandbox.#server.address.split(':')[1])))
      const init = await sandbox.#startGeneration('init', parsed.initTimeoutMs)
      recorder.record.init = init
      sandbox.#coldInitMs = init.status === 'success' ? init.durationMs : undefined
    } catch (error) {
      // A failed start cleans up before rethrowing the original error.
      await sandbox.dispose().catch(() => undefined)
      throw error
    }
    return sandbox
  }

  // ---- PlatformPort: what the API routers see ---------------------------------------------

  get runtime(): RuntimeAgent {
    return this.#current.runtime
  }

  get extensions(): ExtensionRegistry {
    return this.#current.extensions
  }

  get telemetry(): TelemetryPort {
    return this.#telemetry
  }

  get functionInfo(): FunctionInfo {
    return {
      functionName: this.#options.functionName,
      functionVersion: '$LATEST',
      handler: this.#options.handler,
      accountId: this.#options.accountId,
    }
  }

  now(): number {
    return this.#recorder.now()
  }

  apiCall(call: ApiCall): void {
    const outcome = call.status === 0 ? 'never answered' : `${call.status}${call.errorType === undefined ? '' : ` ${call.errorType}`}`
    this.#recorder.add('api', `${call.method} ${call.path} → ${outcome}`, call.caller, call.atMs)
  }

  delivered(caller: string, event: InvokeEvent | ExtensionEvent): void {
    const atMs = this.#recorder.now()
    const record = this.#current.processRecord(caller)
    if ('eventType' in event) {
      record?.events.push(
        event.eventType === 'INVOKE'
          ? { eventType: 'INVOKE', atMs, requestId: event.requestId, deadlineMs: event.deadlineMs }
          : { eventType: 'SHUTDOWN', atMs, shutdownReason: event.shutdownReason, deadlineMs: event.deadlineMs },
      )
      this.#recorder.add('event', event.eventType === 'INVOKE' ? `INVOKE ${event.requestId}` : `SHUTDOWN (${event.shutdownReason})`, caller, atMs)
    } else {
      this.#recorder.add('event', `invoke ${event.requestId}`, caller, atMs)
    }
  }

  registered(agent: ExtensionAgent): void {
    this.#current.registered(agent)
  }

  connected(socket: Socket): void {
    this.#ownConnections.accepted(socket)
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
    if (atFdLimit(fd)) {
      this.#harnessOutOfFds(`the processes' connections to the API took its descriptors up to fd ${fd}`)
    }
  }

  harnessFault(error: NodeJS.ErrnoException): void {
    if (error.code === 'EMFILE' || error.code === 'ENFILE') {
      this.#harnessOutOfFds(`${error.syscall ?? 'accept'} on the API: ${error.code}`)
    }
  }

  /** The socket table of the network the API's connections are in: the sandbox's own, or the host's. */
  #tcpTable(): string {
    return this.#isolation?.network?.tcpTable ?? '/proc/self/net/tcp'
  }

  runtimeCaller(socket: Socket): string {
    // The runtime first: it is the usual caller.
    return this.#runtimeCallers.callerOf(socket, () => this.#current.supervised.sort((a, b) => Number(b.name === 'runtime') - Number(a.name === 'runtime')))
  }

  extensionError(agent: ExtensionAgent, kind: 'Extension.InitError' | 'Extension.ExitError', reportedType: string): void {
    const record = this.#current.processRecord(agent.name)
    if (record !== undefined) {
      record.reportedError = `${kind} (${reportedType})`
    }
    this.#current.raiseFatal({ errorType: kind, message: reportedType, process: agent.name, resetReason: 'failure' })
  }

  // ---- Public API -------------------------------------------------------------------------

  /** A copy of the record so far. */
  get record(): RunRecord {
    return this.#recorder.snapshot()
  }

  /**
   * A connection to 127.0.0.1:`port` as the sandbox's processes reach it: inside its own network
   * when it has one (the API at 9001, a subscriber's listener), else on the host's loopback.
   */
  connectInside(port: number, signal: AbortSignal = this.#controller.signal): Promise<Socket> {
    const network = this.#isolation?.network
    return network === undefined ? connectLoopback(port, signal) : network.connect(port, signal)
  }

  /** Where the API server listens, as the processes see it: the AWS_LAMBDA_RUNTIME_API value. */
  get runtimeApi(): string {
    this.#assertNotDisposed()
    return this.#server.address
  }

  /**
   * Invokes the function. Function errors, timeouts and crashes are results; a failure resets
   * the sandbox and the next invoke runs a suppressed Init first, as Lambda does.
   */
  invoke(event: unknown = {}, options: InvokeOptions = {}): Promise<InvocationRecord> {
    this.#assertNotDisposed()
    if (this.#shutDown) {
      return Promise.reject(new HarnessError('ERR_SHUT_DOWN', 'invoke() after shutdown(): boot a new sandbox'))
    }
    const payload =
      options.payload !== undefined ? Buffer.from(options.payload) : Buffer.from(JSON.stringify(event === undefined ? {} : event), 'utf8')
    if (payload.length > MAX_REQUEST_BYTES) {
      return Promise.reject(
        new HarnessError('ERR_BAD_INPUT', `Request must be smaller than ${MAX_REQUEST_BYTES} bytes for the InvokeFunction operation (got ${payload.length})`),
      )
    }
    return this.#serialise(() => this.#invoke(payload, options))
  }

  /**
   * The harness was interrupted (SIGINT, SIGTERM): the record says so, and the invoke in progress
   * ends now, unanswered. Call shutdown() then, as the run would have: nothing recorded is lost.
   */
  interrupt(why: string): void {
    this.#assertNotDisposed()
    if (this.#recorder.record.interrupted) {
      return
    }
    this.#recorder.record.interrupted = true
    this.#recorder.problem({ code: 'interrupted', message: `the run was interrupted (${why}) before it finished` })
    this.#current?.interrupt()
  }

  /** Interrupts the sandbox when `signal` aborts (at once if it has); the returned function stops listening. */
  interruptOn(signal: AbortSignal | undefined): () => void {
    const interrupt = () => this.interrupt(String(signal?.reason))
    signal?.addEventListener('abort', interrupt, { once: true })
    if (signal?.aborted === true) {
      interrupt()
    }
    return () => signal?.removeEventListener('abort', interrupt)
  }

  /** Shuts the sandbox down with Lambda's algorithm; the sandbox takes no invokes afterwards. */
  shutdown(options: ShutdownOptions = {}): Promise<ShutdownRecord> {
    this.#assertNotDisposed()
    const reason = options.reason ?? 'spindown'
    if (!SHUTDOWN_REASONS.includes(reason)) {
      return Promise.reject(invalid('reason', SHUTDOWN_REASONS.join(' | '), reason))
    }
    if (this.#shutDown) {
      return Promise.reject(new HarnessError('ERR_SHUT_DOWN', 'shutdown() was already called'))
    }
    this.#shutDown = true
    return this.#serialise(async () => {
      const record = this.#live ? await this.#shutdownGeneration(reason, true) : await this.#shutdownAfterReset(reason)
      await this.#resources?.settle(this.#recorder)
      await this.#server.close()
      return structuredClone(record)
    })
  }

  /** Idempotent: kills every process group, closes the server. Throws the first error at the end. */
  dispose(): Promise<void> {
    this.#disposing ??= (async () => {
      this.#controller.abort(new HarnessError('ERR_DISPOSED', 'the sandbox was disposed'))
      // Every step runs even when one before it failed; the first failure is thrown at the end.
      const steps: (() => unknown)[] = [
        () => this.#current?.destroy(),
        // A dispose without the final Shutdown: a plain daemon must not outlive the sandbox either.
        () => this.#endPlainProcesses(),
        () => this.#resources?.close(),
        () => this.#telemetry.close(),
        () => this.#server?.close(),
        () => this.#isolation?.dispose(),
        // After the processes and bind mounts are gone.
        () => this.#layers?.cleanup(),
      ]
      const errors: unknown[] = []
      for (const step of steps) {
        try {
          await step()
        } catch (error) {
          errors.push(error)
        }
      }
      if (errors.length > 0) {
        throw errors[0]
      }
    })()
    return this.#disposing
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose()
  }

  // ---- Phases -----------------------------------------------------------------------------

  #serialise<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(operation)
    this.#queue = run.catch(() => undefined)
    return run
  }

  #assertNotDisposed(): void {
    if (this.#disposing !== undefined) {
      throw new HarnessError('ERR_DISPOSED', 'the sandbox was disposed')
    }
  }

  async #startGeneration(phase: 'init' | 'invoke', timeoutMs: number) {
    // A new sandbox first, when its holder died: the next listener is made in its network.
    if (this.#isolation?.lost !== undefined) {
      await this.#renewIsolation()
    }
    if (this.#generations > 0) {
      await this.#server.renew()
    }
    this.#apiAddresses.push({ address: this.#server.address, sinceTicks: uptimeTicks() })
    const generation = new Generation({
      index: this.#generations++,
      recorder: this.#recorder,
      extensionFiles: this.#extensionFiles.map((file) => ({ name: file.name, path: this.#sandboxed.extensionPath(file.name, file.path), hostPath: file.path })),
      extensionEnv: extensionEnvironment(this.#runtimeEnv()),
      extensionCwd: this.#sandboxed.taskRoot,
      launcher: this.#sandboxed.launcher,
      runtimeSpec: () => this.#runtimeSpec(),
      signal: this.#controller.signal,
      runtimeShutdownMs: this.#options.runtimeShutdownMs,
      telemetry: this.#telemetry,
      flushTelemetryBeforeShutdown: this.#options.telemetry.flushBeforeShutdown,
      memoryMB: this.#options.memoryMB,
      functionName: this.#options.functionName,
      probeFolders: this.#sandboxed.probeFolders,
      apiAddress: this.#server.address,
      ownSockets: this.#ownConnections.inodes,
      processEnv: (name) => this.#resources?.env(name) ?? {},
      functionTimeoutMs: this.#options.timeoutMs,
      ...(this.#options.profile.family === 'os-only' && this.#options.runtimeCommand === undefined ? { runtimeNotFound: NO_BOOTSTRAP_MESSAGE } : {}),
      platformFault: () => this.#platformFault(),
      outOfFds: (cause) => this.#harnessOutOfFds(cause),
    })
    this.#current = generation
    this.#live = true
    if (this.#recorder.record.interrupted) {
      generation.interrupt()
    }
    const init =
      this.#extensionFiles.length > MAX_EXTENSIONS ? this.#tooManyExtensions(generation) : await generation.init(phase, timeoutMs)
    const problem = initProblem(init)
    if (problem !== undefined) {
      this.#recorder.problem(problem)
      const fatal = generation.fatalError
      await this.#reset(fatal?.resetReason ?? 'failure', describeFatal(fatal))
    }
    return init
  }

  #tooManyExtensions(generation: Generation) {
    generation.raiseFatal({
      errorType: 'Extension.LaunchError',
      message: `TooManyExtensions: ${this.#extensionFiles.length} extension files, Lambda allows ${MAX_EXTENSIONS}`,
      process: 'platform',
      resetReason: 'failure',
    })
    return {
      status: 'error' as const,
      phase: 'init' as const,
      errorType: 'Extension.LaunchError',
      durationMs: 0,
      startedAtMs: this.#recorder.now(),
      extensions: [],
    }
  }

  async #invoke(payload: Buffer, options: InvokeOptions): Promise<InvocationRecord> {
    const recorder = this.#recorder
    const requestId = randomUUID()
    const startedAtMs = recorder.now()
    const deadlineMs = Date.now() + this.#options.timeoutMs
    const record: InvocationRecord = { requestId, status: 'success', response: '', contentType: 'application/json', durationMs: 0, startedAtMs }
    this.#recorder.invocation(record)
    recorder.add('phase', `START RequestId: ${requestId} Version: $LATEST`)
    if (!this.#live) {
      // A suppressed Init: the first invoke after a reset re-inits under the function timeout.
      const init = await this.#startGeneration('invoke', deadlineMs - Date.now())
      record.init = init
      if (init.status !== 'success') {
        const fatal = this.#current.fatalError
        record.functionError = 'Unhandled'
        if (init.status === 'timeout') {
          // The suppressed Init ran out the function timeout: the caller sees a function timeout.
          record.status = 'timeout'
          record.errorType = CALLER_TIMEOUT_ERROR_TYPE
          record.response = platformErrorBody(requestId, CALLER_TIMEOUT_ERROR_TYPE, timeoutMessage(this.#options.timeoutMs))
        } else {
          record.status = 'error'
          record.errorType = init.errorType ?? 'Runtime.Unknown'
          record.response = initErrorBody(fatal, record.errorType, requestId)
        }
        // The invoke ends with the Init; the reset that follows is not part of its duration.
        record.durationMs = roundMs(init.startedAtMs + init.durationMs - startedAtMs)
        // Lambda still logs the invoke after the INIT_REPORTs: START, END, REPORT with the error (LAMBDA-SPEC §3.1).
        this.#telemetry.platform('platform.start', { requestId, version: '$LATEST' })
        this.#telemetry.platform('platform.report', {
          requestId,
          status: record.status,
          errorType: record.errorType,
          metrics: { durationMs: record.durationMs, billedDurationMs: Math.ceil(record.durationMs), memorySizeMB: this.#options.memoryMB, maxMemoryUsedMB: 0 },
        })
        recorder.add('phase', `END RequestId: ${requestId} (${record.status}, ${record.errorType})`)
        return structuredClone(record)
      }
    }
    const event: InvokeEvent = {
      requestId,
      deadlineMs,
      invokedFunctionArn: this.#functionArn,
      traceId: traceId(),
      clientContext: options.clientContext,
      cognitoIdentity: options.cognitoIdentity,
      tenantId: options.tenantId,
      contentType: options.contentType ?? 'application/json',
      payload,
    }
    const generation = this.#current
    const outcome = await generation.invoke(event, record, this.#coldInitMs)
    this.#coldInitMs = undefined
    if (outcome.reset !== undefined) {
      await this.#reset(outcome.reset, describeFatal(generation.fatalError) ?? `invoke ${requestId} ended with ${record.errorType ?? record.status}`)
    } else if (this.#options.freeze) {
      generation.freeze()
    }
    return copyInvocation(record)
  }

  async #reset(reason: ShutdownReason, cause: string | undefined): Promise<void> {
    const record = await this.#shutdownGeneration(reason, false)
    this.#recorder.record.resets.push(record)
    this.#recorder.problem(resetProblem(record, cause ?? 'a failure'))
  }

  async #shutdownGeneration(reason: ShutdownReason, final: boolean): Promise<ShutdownRecord> {
    const record = await this.#current.shutdown(reason, final)
    this.#live = false
    this.#ended.push(...this.#current.supervised)
    if (final) {
      this.#recorder.record.shutdown = record
      // Whatever escaped its process group (a double-forked daemon) dies with the sandbox.
      const reaped = new Set(record.orphans.flatMap((orphan) => orphan.pids))
      const left = [...(await this.#sandboxed.end([...reaped])), ...this.#endPlainProcesses()].filter((pid) => !reaped.has(pid))
      if (left.length > 0) {
        record.orphans.push({ group: 'sandbox', pids: left })
        this.#recorder.add('signal', `SIGKILL to ${left.length} process(es) left in the sandbox: ${left.join(', ')}`, 'sandbox')
      }
    }
    this.#recordShutdownProblems(record)
    return record
  }

  /**
   * The final Shutdown when a reset ended the last generation: nothing of Lambda's runs, but a
   * daemon a process of it forked out of its group may. It is reported, as its own process's
   * orphan, and SIGKILLed here rather than silently by dispose().
   */
  async #shutdownAfterReset(reason: ShutdownReason): Promise<ShutdownRecord> {
    const launchers = new Map(this.#ended.flatMap((process) => (process.holdingLauncher === undefined ? [] : [[process.holdingLauncher, process.name] as const])))
    // What an earlier Shutdown already SIGKILLed may not be reaped yet (pid 1 reaps it): not news.
    const reapedBefore = new Set(this.#recorder.record.resets.flatMap((reset) => reset.orphans.flatMap((orphan) => orphan.pids)))
    const left = (this.#isolation?.mode === 'none' ? this.#plainStrays() : this.#sandboxed.members()).filter((pid) => !reapedBefore.has(pid) && isLive(pid))
    if (left.length === 0) {
      return this.#emptyShutdown(reason)
    }
    const context = { generationTicks: this.#apiAddresses.map((address) => address.sinceTicks), extensions: this.#extensionFiles.map((file) => file.name), launchers }
    const owners = left.map((pid) => ({ pid, owner: daemonOwner(pid, context) }))
    const record = this.#emptyShutdown(reason, `${left.length} process(es) forked out of their group were still running after the last reset`)
    const killed = [...(await this.#sandboxed.end([])), ...this.#endPlainProcesses()]
    for (const { pid, owner } of owners.filter(({ pid }) => killed.includes(pid))) {
      const group = owner?.process ?? 'sandbox'
      const orphan = record.orphans.find((o) => o.group === group) ?? record.orphans[record.orphans.push({ group, pids: [] }) - 1]!
      orphan.pids.push(pid)
      this.#recorder.add('signal', `SIGKILL to pid ${pid}, left running after the last reset (started in generation ${owner?.generation ?? '?'})`, group)
    }
    this.#recordShutdownProblems(record)
    return record
  }

  /** The verdict's view of a Shutdown. A Python client (ours, awslambdaric or an image's) runs a SIGTERM handler only where the profile lets it. */
  #recordShutdownProblems(record: ShutdownRecord): void {
    const pythonClient = this.#options.runtimeCommand === undefined && this.#options.profile.family === 'python'
    for (const problem of shutdownProblems({ shutdown: record, sigtermReachesPython: this.#options.profile.sigtermReachesPython, pythonClient })) {
      this.#recorder.problem(problem)
    }
  }

  #emptyShutdown(reason: ShutdownReason, running = 'nothing was running after the last reset'): ShutdownRecord {
    const atMs = this.#recorder.now()
    const record: ShutdownRecord = {
      reason,
      final: true,
      startedAtMs: atMs,
      durationMs: 0,
      windowMs: 0,
      runtimeShareMs: 0,
      deadlineEpochMs: this.#recorder.epochAt(atMs),
      deadlineAtMs: atMs,
      runtime: null,
      extensions: [],
      orphans: [],
    }
    this.#recorder.add('phase', `Shutdown (reason ${reason}): ${running}`)
    this.#recorder.record.shutdown = record
    return record
  }

  // ---- Faults of the harness and the sandbox itself ---------------------------------------

  /** What explains a process's end better than the process: a dead holder, or the harness out of fds. */
  #platformFault(): Fatal | undefined {
    const isolation = this.#isolation
    const lost = isolation?.lost
    if (isolation !== undefined && lost !== undefined) {
      if (!this.#lossesRecorded.has(isolation)) {
        this.#lossesRecorded.add(isolation)
        this.#recorder.problem({ code: 'sandbox-holder-killed', process: 'sandbox', message: lost })
      }
      return { errorType: 'Sandbox.Failure', message: lost, process: 'platform', resetReason: 'failure' }
    }
    if (this.#outOfFds !== undefined) {
      return { errorType: 'Sandbox.Failure', message: `the harness ran out of file descriptors (${this.#outOfFds})`, process: 'platform', resetReason: 'failure' }
    }
    return undefined
  }

  /** The harness's own fault, once in the verdict: never the fault of the process whose connection it dropped. */
  #harnessOutOfFds(cause: string): void {
    if (this.#outOfFds !== undefined) {
      return
    }
    this.#outOfFds = cause
    const limit = ownFdLimit()
    this.#recorder.problem({
      code: 'harness-out-of-fds',
      message:
        `the harness ran out of file descriptors (${cause}${limit === undefined ? '' : `; its limit is ${limit.soft}`}): ` +
        'connections and processes it could not take were its failure, not the processes\'; raise the harness\'s limit (ulimit -n) and run again',
    })
  }

  /** The sandbox's holder died: the next Init runs in a new sandbox (its /tmp starts empty). */
  async #renewIsolation(): Promise<void> {
    const old = this.#sandboxed
    // In the verdict even when no process was left to notice (it died between generations).
    this.#platformFault()
    await old.dispose()
    const { isolation, warning } = await startIsolation(this.#isolationInput!)
    this.#isolation = isolation
    if (warning !== undefined) {
      this.#recorder.record.warnings.push(warning)
    }
    await this.#relayPorts()
    this.#recorder.add('phase', `a new sandbox replaces the one whose holder died. ${isolation.description}`)
  }

  /** The probes' servers and the ports the user named, on the host, at the same 127.0.0.1 addresses inside. */
  async #relayPorts(): Promise<void> {
    const network = this.#isolation?.network
    const relayed = [...new Set([...(this.#resources?.hostPorts ?? []), ...this.#options.hostPorts])]
    if (network !== undefined) {
      await Promise.all(relayed.map((port) => network.relay(port)))
    }
  }

  /** A listening socket at 127.0.0.1:9001 in the current sandbox's own network. */
  #listenInside(): ReturnType<NonNullable<Isolation['network']>['listen']> {
    const network = this.#isolation?.network
    if (network === undefined) {
      throw new HarnessError('ERR_SERVER', 'the sandbox has no network of its own to serve the API in')
    }
    return network.listen(SANDBOX_API_PORT)
  }

  // ---- Processes --------------------------------------------------------------------------

  #runtimeEnv(): Record<string, string> {
    const options = this.#options
    const layerPart = (part: 'bin' | 'lib' | 'python') => this.#sandboxed.layerDirs(part)
    return runtimeEnvironment({
      runtimeApi: this.#server.address,
      handler: options.handler,
      taskRoot: this.#sandboxed.taskRoot,
      runtimeDir: this.#sandboxed.runtimeDir,
      profile: options.profile,
      functionName: options.functionName,
      memoryMB: options.memoryMB,
      region: options.region,
      customer: this.#customerEnv(),
      platform: { ...options.platformEnv, ...jitEnv(this.#python) },
      layerBinDirs: layerPart('bin'),
      layerLibDirs: layerPart('lib'),
      layerPythonDirs: layerPart('python'),
      hostPath: options.image === undefined ? (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin') : LAMBDA_PATH,
      ...(options.image === undefined ? {} : { systemLibDirs: LAMBDA_SYSTEM_LIB_DIRS }),
      osOnlyRuntimeDir: options.osOnlyRuntimeDir,
    })
  }

  /** The function's variables, `{SINK_URL}` in a value replaced by this sandbox's collector (validation required the sink). */
  #customerEnv(): Readonly<Record<string, string>> {
    const sinkUrl = this.#resources?.env('runtime').SINK_URL
    const env = this.#options.env
    if (sinkUrl === undefined || !Object.values(env).some((value) => value.includes(SINK_URL_PLACEHOLDER))) {
      return env
    }
    return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, value.replaceAll(SINK_URL_PLACEHOLDER, sinkUrl)]))
  }

  #runtimeSpec(): SpawnSpec {
    const sandboxed = this.#sandboxed
    return runtimeSpec({
      options: this.#options,
      isolated: sandboxed.mode === 'bwrap',
      taskRoot: sandboxed.taskRoot,
      runtimeDir: sandboxed.runtimeDir,
      pythonBootstrap: sandboxed.bootstrap,
      python: this.#python,
      env: { ...this.#runtimeEnv(), ...this.#resources?.env('runtime') },
    })
  }

  /**
   * Plain processes have no PID namespace to end with the sandbox: those that left their process
   * group (a double-forked daemon) are found by the API address they inherited, and SIGKILLed.
   */
  #endPlainProcesses(): number[] {
    if (this.#isolation?.mode !== 'none') {
      return []
    }
    const strays = this.#plainStrays()
    for (const pid of strays) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // Gone meanwhile.
      }
    }
    for (const launcher of [...this.#ended, ...(this.#current?.supervised ?? [])]) {
      launcher.endLauncher()
    }
    return strays
  }

  /** Plain mode's processes that left their group: held by a launcher, or carrying our API address. */
  #plainStrays(): number[] {
    // The daemons each launcher holds (its descendants: the subreaper adopted them), and any
    // process that still carries the sandbox's API address (one started without a launcher).
    const launchers = [...this.#ended, ...(this.#current?.supervised ?? [])]
    const held = launchers.flatMap((process) => (process.holdingLauncher === undefined ? [] : descendants(process.holdingLauncher).slice(1).filter(isLive)))
    // The launchers themselves carry the address too (they run with the process's environment).
    const holders = new Set(launchers.map((process) => process.holdingLauncher))
    return [
      ...new Set([
        ...held,
        ...processesWithEnvironment(
          this.#apiAddresses.map(({ address, sinceTicks }) => ({ entry: `AWS_LAMBDA_RUNTIME_API=${address}`, sinceTicks })),
        ).filter((pid) => !holders.has(pid)),
      ]),
    ]
  }

  get #sandboxed(): Isolation {
    if (this.#isolation === undefined) {
      throw new HarnessError('ERR_INTERNAL', 'the sandbox has no isolation yet')
    }
    return this.#isolation
  }
}

/** Convenience: `await boot(options)`. */
export function boot(options: BootOptions, hooks?: SandboxHooks): Promise<Sandbox> {
  return Sandbox.boot(options, hooks)
}

/** The regular files of every layer's extensions/ folder; a later layer's file wins, as in /opt. */
function listExtensions(options: ParsedOptions, skipFolder: (folder: string) => void): ExtensionFile[] {
  const byName = new Map<string, string>()
  for (const layer of options.layers) {
    let entries: string[]
    try {
      entries = readdirSync(layer.extensionsDir)
    } catch {
      continue
    }
    for (const name of entries) {
      const file = path.join(layer.extensionsDir, name)
      // Folders are skipped, as RAPID keeps only non-directory entries; a link to nothing is kept
      // (its launch fails: Extension.LaunchError), not silently left out.
      if (statSync(file, { throwIfNoEntry: false })?.isDirectory() !== true) {
        byName.set(name, file)
      } else {
        skipFolder(file)
      }
    }
  }
  // Go's os.ReadDir order: byte-wise by name.
  return [...byName.entries()]
    .sort(([a], [b]) => (Buffer.compare(Buffer.from(a), Buffer.from(b))))
    .map(([name, file]) => ({ name, path: file }))
}

function folderWarning(folder: string): string {
  return `extension ${folder} is a folder: skipped, as Lambda starts only the files in extensions/`
}

/** Lambda's PATH before /opt/bin: inside an image the host's PATH means nothing (LAMBDA-SPEC §5). */
const LAMBDA_PATH = '/var/lang/bin:/usr/local/bin:/usr/bin/:/bin'
/** The head of Lambda's LD_LIBRARY_PATH (LAMBDA-SPEC §5): an image's Python in /var/lang needs its libraries. */
const LAMBDA_SYSTEM_LIB_DIRS = ['/var/lang/lib', '/lib64', '/usr/lib64']

/** The runtime's command line for the record. */
function interpreterWarnings(options: ParsedOptions, python: PythonInfo | undefined): string[] {
  if (python === undefined) {
    return []
  }
  const minor = python.version.split('.').slice(0, 2).join('.')
  if (minor === options.profile.pythonVersion) {
    return []
  }
  return [
    `profile ${options.profile.id} runs on ${python.command} (Python ${python.version}); Lambda would run Python ${options.profile.pythonVersion}. ` +
      'The profile decides the platform behaviour (Unicode, SIGTERM, AWS_EXECUTION_ENV); the language is your interpreter\'s',
  ]
}

/**
 * The interpreter's own folders (its bin, its prefix, its sys.path): they stay visible when they
 * lie under a hidden private folder (pyenv's under /root/.pyenv, a venv in a home folder).
 */
function interpreterPaths(python: PythonInfo | undefined): string[] {
  if (python === undefined || python.executable === '') {
    return []
  }
  const bin = path.dirname(python.executable)
  let prefix = path.dirname(bin)
  try {
    prefix = path.dirname(path.dirname(realpathSync(python.executable)))
  } catch {
    // Not resolvable: the folder as given.
  }
  return [bin, path.dirname(bin), prefix, ...python.sysPath.filter((folder) => path.isAbsolute(folder))]
}

/** Lambda's Python 3.13+ is built without the experimental JIT; keep it off on any interpreter. */
function jitEnv(python: PythonInfo | undefined): Record<string, string> {
  if (python === undefined) {
    return {}
  }
  const [major = 0, minor = 0] = python.version.split('.').map(Number)
  return major > 3 || (major === 3 && minor >= 13) ? { PYTHON_JIT: '0' } : {}
}

// Trace ids come from a pool filled 256 at a time, as Node's randomUUID does: a randomBytes call
// per invoke (a synchronous job plus OpenSSL's fork check) was ~29 µs of every invoke's CPU.
const TRACE_RANDOM_BYTES = 20
const tracePool = Buffer.alloc(TRACE_RANDOM_BYTES * 256)
let tracePoolOffset = tracePool.length

function traceId(): string {
  const epoch = Math.floor(Date.now() / 1000).toString(16).padStart(8, '0')
  if (tracePoolOffset === tracePool.length) {
    randomFillSync(tracePool)
    tracePoolOffset = 0
  }
  const random = tracePool.toString('hex', tracePoolOffset, (tracePoolOffset += TRACE_RANDOM_BYTES))
  return `Root=1-${epoch}-${random.slice(0, 24)};Parent=${random.slice(24)};Sampled=0`
}

/** A user's hook runs inside the harness's own steps: what it throws must not break them. */
function callHook(hook: (entry: TimelineEntry) => void, entry: TimelineEntry, warn: ((message: string) => void) | undefined): void {
  try {
    hook(entry)
  } catch (error) {
    warn?.(`the onTimeline hook threw: ${String(error)}`)
  }
}

/**
 * The caller's copy of an invocation record. Every field but `init` is a primitive, so a spread
 * copies it; structuredClone (serialise and deserialise) was the largest item of `#invoke`.
 */
function copyInvocation(record: InvocationRecord): InvocationRecord {
  return record.init === undefined ? { ...record } : structuredClone(record)
}

function describeFatal(fatal: Fatal | undefined): string | undefined {
  if (fatal === undefined) {
    return undefined
  }
  const who = fatal.process === 'runtime' ? 'the runtime' : fatal.process === 'platform' ? 'the platform' : `extension \`${fatal.process}\``
  return `${who}: ${fatal.errorType} (${fatal.message})`
}

/** What the caller of the invoke that ran a failed suppressed Init receives. */
function initErrorBody(fatal: Fatal | undefined, errorType: string, requestId: string): string {
  if (fatal?.body !== undefined) {
    // The runtime's own /init/error body, passed through as posted.
    return fatal.body.toString('utf8')
  }
  return platformErrorBody(requestId, errorType, fatal?.message ?? 'Init failed')
}

function invalidProbe(value: unknown): never {
  throw invalid('postgres', 'true, false or a started PostgresProbe', value)
}
