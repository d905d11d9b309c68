// One generation of a sandbox: the processes and agents from one Init to the Shutdown or reset
// that ends them. After a reset the sandbox starts a new generation (a suppressed Init).
import type { ShutdownReason } from '../config/options.js'
import { CALLER_TIMEOUT_ERROR_TYPE, describeExit, platformErrorBody, timeoutMessage, type FatalErrorType } from '../lifecycle/error-types.js'
import { ExtensionRegistry, type ExtensionAgent } from '../lifecycle/extensions.js'
import { extensionInvokeEvent, type InvokeEvent } from '../lifecycle/events.js'
import { deferred } from '../lifecycle/deferred.js'
import { RuntimeAgent, MAX_RESPONSE_BYTES, type RuntimeAnswer } from '../lifecycle/runtime.js'
import { MAX_PROCESS_EXIT_WAIT_MS, planShutdown } from '../lifecycle/shutdown-plan.js'
import { roundMs, type Recorder } from '../record/recorder.js'
import type { InitRecord, InvocationRecord, PhaseStatus, ProcessRecord, ShutdownRecord, SignalReason } from '../record/run-record.js'
import { catchesSigterm, descendants, groupMembers, PeakMemory } from '../supervisor/process-groups.js'
import type { TelemetrySink } from '../telemetry/sink.js'
import { heldResources } from '../probes/processes.js'
import { SupervisedProcess, type LaunchFailure, type ProcessHost, type SpawnSpec } from '../supervisor/supervisor.js'
import { missingInterpreterMessage, shebangInterpreter } from '../config/preflight.js'
import { existsSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { Deadline, raceUntil } from './race.js'
import { loaderError } from './loader-error.js'

/** How long the rest of a SIGKILLed process's group may take to die before it counts as orphans. */
const MAX_GROUP_DEATH_WAIT_MS = 100

/** The first fatal error of a generation: it ends the current phase and causes a reset. */
export interface Fatal {
  readonly errorType: FatalErrorType | string
  /** RAPID's wording after "Error: ", e.g. "Runtime exited with error: exit status 1". */
  readonly message: string
  readonly process: string
  readonly resetReason: ShutdownReason
  /** A runtime's /init/error body, passed to the caller as it was posted. */
  readonly body?: Buffer
}

export interface ExtensionFile {
  readonly name: string
  readonly path: string
  /** Where the file is on the host, when `path` is the sandbox's view of it (/opt/extensions/<name>). */
  readonly hostPath?: string
}

export interface GenerationSetup {
  readonly index: number
  readonly recorder: Recorder
  readonly extensionFiles: readonly ExtensionFile[]
  readonly extensionEnv: Readonly<Record<string, string>>
  readonly extensionCwd: string
  runtimeSpec(): SpawnSpec
  readonly signal: AbortSignal
  readonly runtimeShutdownMs: number | undefined
  readonly telemetry: TelemetrySink
  /** Managed Instances' order: buffered telemetry is flushed between the runtime's exit and SHUTDOWN. */
  readonly flushTelemetryBeforeShutdown: boolean
  readonly memoryMB: number
  readonly functionName: string
  /** The function timeout, for the "Task timed out after N seconds" message. */
  readonly functionTimeoutMs: number
  /** Folders whose open files are worth naming when a process is killed (function, layers, tmp). */
  readonly probeFolders: readonly string[]
  /** host:port of our own API: a killed process's connection to it is not news. */
  readonly apiAddress: string
  /** Client-side inodes of the connections to our API: no socket table is read for these. */
  readonly ownSockets: ReadonlySet<string>
  /** Starts every process: the sandbox's holder, or plain mode's launcher. */
  readonly host: ProcessHost
  /** Per-process variables from the probes (DATABASE_URL, PGAPPNAME=<name>, SINK_URL). */
  processEnv(name: string): Readonly<Record<string, string>>
  /** RAPID's Init error message when the runtime's executable does not exist (an OS-only runtime's bootstrap). */
  readonly runtimeNotFound?: string
  /**
   * A fault of the harness or the sandbox itself (its holder died, the harness ran out of
   * descriptors) that explains a process's end: then it is the fatal error, not the process's.
   */
  platformFault?(): Fatal | undefined
  /** The harness could not start a process for lack of its own descriptors (EMFILE, ENFILE). */
  outOfFds?(cause: string): void
}

export interface InvokeOutcome {
  readonly record: InvocationRecord
  readonly reset: ShutdownReason | undefined
}

const PLATFORM_ERROR = 'application/json'

/** Ends an invoke's waits when the harness is interrupted: not a Lambda error, never raised as one. */
const INTERRUPTED: Fatal = { errorType: 'Interrupted', message: 'the harness was interrupted', process: 'platform', resetReason: 'spindown' }

/** A script whose file exists but whose line-1 interpreter does not fails with ENOENT: say which is missing. */
function launchFailureMessage(failure: LaunchFailure, hostFile: string | undefined): string {
  const interpreter = failure.code === 'ENOENT' && hostFile !== undefined && existsSync(hostFile) ? shebangInterpreter(hostFile) : undefined
  return interpreter === undefined ? failure.message : `${failure.message}: ${missingInterpreterMessage(interpreter)}`
}

export class Generation {
  readonly runtime = new RuntimeAgent()
  readonly extensions: ExtensionRegistry
  readonly #setup: GenerationSetup
  readonly #processes = new Map<string, { process: SupervisedProcess; record: ProcessRecord }>()
  readonly #fatal = deferred<Fatal>()
  /** What ends an invoke's waits early: the first fatal error (settled with it, no later), or the harness's interruption. */
  readonly #ending = deferred<Fatal>()
  #shuttingDown = false
  /** The runtime's VmHWM, for REPORT: opened at the first invoke, closed when the runtime exits. */
  #runtimeMemory: PeakMemory | undefined

  constructor(setup: GenerationSetup) {
    this.#setup = setup
    this.extensions = new ExtensionRegistry(setup.extensionFiles.map((file) => file.name))
  }

  get fatal(): Promise<Fatal> {
    return this.#fatal.promise
  }

  /** The first fatal error, once there is one. */
  get fatalError(): Fatal | undefined {
    return this.#firstFatal
  }

  #firstFatal: Fatal | undefined

  /** Records the first fatal error; later ones are consequences and only go to the timeline. */
  raiseFatal(fatal: Fatal): void {
    if (this.#shuttingDown) {
      return
    }
    if (this.#firstFatal === undefined) {
      this.#firstFatal = fatal
      this.#fatal.resolve(fatal)
      this.#ending.resolve(fatal)
    }
    this.#setup.recorder.add('phase', `fatal: ${fatal.errorType} (${fatal.message})`, fatal.process)
  }

  processRecord(name: string): ProcessRecord | undefined {
    return this.#processes.get(name)?.record
  }

  get liveProcesses(): SupervisedProcess[] {
    return [...this.#processes.values()].map((p) => p.process).filter((p) => p.alive)
  }

  // ---- Init ------------------------------------------------------------------------------

  /**
   * Extension init → runtime init, as RAPID's initFlow: externals start in file-name order, the
   * runtime starts once every external registered, Init ends when the runtime and every
   * registered extension have called next.
   */
  async init(phase: 'init' | 'invoke', timeoutMs: number): Promise<InitRecord> {
    const { recorder, signal } = this.#setup
    const startedAtMs = recorder.now()
    const deadlineAtMs = startedAtMs + timeoutMs
    recorder.add('phase', `Init start (phase ${phase}, generation ${this.#setup.index})`)
    const { telemetry } = this.#setup
    const initType = { initializationType: 'on-demand', phase }
    telemetry.platform('platform.initStart', { ...initType, functionName: this.#setup.functionName, functionVersion: '$LATEST' })
    const record: InitRecord = { status: 'success', phase, durationMs: 0, startedAtMs, extensions: [] }
    let runtimeDone = false
    const finish = (status: PhaseStatus, errorType?: string): InitRecord => {
      record.status = status
      if (errorType !== undefined) {
        record.errorType = errorType
      }
      record.durationMs = recorder.since(startedAtMs)
      const error = errorType === undefined ? {} : { errorType }
      if (!runtimeDone) {
        telemetry.platform('platform.initRuntimeDone', { ...initType, status, ...error })
      }
      for (const agent of this.extensions.registered) {
        telemetry.platform('platform.extension', {
          name: agent.name,
          state: agent.state,
          events: [...agent.events],
          ...(agent.reportedError === undefined ? {} : { errorType: agent.reportedError }),
        })
      }
      telemetry.platform('platform.initReport', { ...initType, status, ...error, metrics: { durationMs: record.durationMs } })
      if (status === 'success') {
        telemetry.initDone()
      }
      record.extensions = this.extensions.registered.map((agent) => ({
        name: agent.name,
        external: agent.external,
        events: [...agent.events],
        state: agent.state,
      }))
      recorder.add('phase', `Init end: ${status}${errorType === undefined ? '' : ` (${errorType})`}`)
      return record
    }
    const wait = <T>(promise: Promise<T>) => raceUntil(promise, this.fatal, deadlineAtMs - recorder.now(), signal)

    for (const file of this.#setup.extensionFiles) {
      const agent = this.extensions.external(file.name)
      const started = await this.#spawn({
        name: file.name,
        kind: 'extension',
        file: file.path,
        args: [],
        cwd: this.#setup.extensionCwd,
        env: { ...this.#setup.extensionEnv, ...this.#setup.processEnv(file.name) },
      }, file.hostPath ?? file.path)
      if (!started) {
        if (agent?.can('launchError') === true) {
          agent.apply('launchError')
        }
        return finish('error', 'Extension.LaunchError')
      }
    }
    const registered = await wait(Promise.all(this.extensions.externals.map((agent) => this.#registeredGate(agent))))
    if (registered.kind !== 'value') {
      return this.#initFailed(registered, finish)
    }

    if (!(await this.#spawn(this.#setup.runtimeSpec()))) {
      return finish('error', 'Runtime.InvalidEntrypoint')
    }
    const runtimeInit = await wait(this.runtime.initDone)
    if (runtimeInit.kind !== 'value') {
      return this.#initFailed(runtimeInit, finish)
    }
    runtimeDone = true
    if (runtimeInit.value !== undefined) {
      const { errorType, payload } = runtimeInit.value
      telemetry.platform('platform.initRuntimeDone', { ...initType, status: 'error', errorType })
      this.raiseFatal({ errorType, message: 'init error', process: 'runtime', resetReason: 'failure', body: payload })
      // A runtime exits by itself after /init/error (the RIC calls sys.exit(1)): give it the
      // chance, within the Init limit, so the record shows its own exit rather than our SIGKILL.
      const runtime = this.#processes.get('runtime')?.process
      if (runtime !== undefined) {
        await this.#waitExit(runtime, Math.min(1000, deadlineAtMs - recorder.now()))
      }
      return finish('error', errorType)
    }
    telemetry.platform('platform.initRuntimeDone', { ...initType, status: 'success' })
    // The runtime's first /next closes registration: internal extensions are now fixed.
    this.extensions.closeRegistration()
    const ready = await wait(Promise.all(this.extensions.registered.map((agent) => agent.ready)))
    if (ready.kind !== 'value') {
      return this.#initFailed(ready, finish)
    }
    for (const agent of this.extensions.registered) {
      recorder.add('phase', `EXTENSION Name: ${agent.name} State: ${agent.state} Events: [${[...agent.events].join(', ')}]`, agent.name)
    }
    return finish('success')
  }

  #initFailed(result: { kind: 'fatal'; fatal: Fatal } | { kind: 'deadline' }, finish: (status: PhaseStatus, errorType?: string) => InitRecord): InitRecord {
    if (result.kind === 'fatal') {
      return finish('error', result.fatal.errorType)
    }
    this.raiseFatal({ errorType: 'Sandbox.Timeout', message: 'Init timed out', process: 'platform', resetReason: 'timeout' })
    return finish('timeout', 'Sandbox.Timeout')
  }

  /** Settles when an external agent has called /register. */
  #registeredGate(agent: ExtensionAgent): Promise<void> {
    const gate = deferred<void>()
    if (agent.state !== 'Started') {
      gate.resolve()
    } else {
      this.#registrationWaiters.set(agent.name, gate)
    }
    return gate.promise
  }

  readonly #registrationWaiters = new Map<string, { resolve(): void }>()

  /** Called by the API port when an agent registered. */
  registered(agent: ExtensionAgent): void {
    const record = this.processRecord(agent.name)
    if (record !== undefined && agent.external) {
      record.subscribed = [...agent.events]
      record.state = agent.state
    }
    this.#registrationWaiters.get(agent.name)?.resolve()
    this.#registrationWaiters.delete(agent.name)
  }

  async #spawn(spec: SpawnSpec, hostFile?: string): Promise<boolean> {
    const { recorder } = this.#setup
    const record = recorder.process({
      name: spec.name,
      kind: spec.kind,
      generation: this.#setup.index,
      pid: null,
      startedAtMs: recorder.now(),
      state: 'Started',
      signals: [],
      events: [],
      exit: null,
      exitedAtMs: null,
      killed: false,
    })
    const process = new SupervisedProcess(spec, this.#setup.host, {
      now: () => recorder.now(),
      // Known once started (a launcher reports the pid of the process it started), and in the
      // timeline before anything the process said.
      onStarted: (started) => {
        record.pid = started.pid ?? null
        recorder.add('spawn', `started ${spec.file} (pid ${started.pid})`, spec.name)
      },
      onLine: (_p, stream, line) => {
        recorder.output(spec.name, stream, line)
        this.#setup.telemetry.line(spec.kind === 'runtime' ? 'function' : 'extension', spec.name, line)
      },
      onExit: (_p, exit) => this.#exited(spec.name, exit.code, exit.signal, exit.atMs),
    })
    this.#processes.set(spec.name, { process, record })
    const failure = await process.launched
    if (failure !== undefined) {
      record.state = 'LaunchError'
      recorder.add('spawn', `could not start ${spec.file}: ${failure.code}`, spec.name)
      if (failure.code === 'EMFILE' || failure.code === 'ENFILE') {
        this.#setup.outOfFds?.(`starting ${spec.name}: ${failure.code}`)
      }
      const fault = this.#setup.platformFault?.()
      if (fault !== undefined) {
        this.raiseFatal(fault)
        return false
      }
      const errorType = spec.kind === 'extension' ? 'Extension.LaunchError' : 'Runtime.InvalidEntrypoint'
      const reason = failure.code === 'EACCES' ? 'PermissionDenied' : failure.code === 'ENOENT' ? 'NotFound' : 'UnknownError'
      const notFound = spec.kind === 'runtime' && failure.code === 'ENOENT' ? this.#setup.runtimeNotFound : undefined
      this.raiseFatal({ errorType, message: notFound ?? `${reason}: ${launchFailureMessage(failure, hostFile)}`, process: spec.name, resetReason: 'failure' })
      return false
    }
    return true
  }

  #exited(name: string, code: number | null, signal: NodeJS.Signals | null, atMs: number): void {
    const entry = this.#processes.get(name)
    if (entry === undefined) {
      return
    }
    const { record } = entry
    if (name === 'runtime') {
      this.#runtimeMemory?.close()
    }
    record.exit = { code, signal }
    record.exitedAtMs = atMs
    this.#setup.telemetry.exited(name, { code, signal })
    this.#setup.recorder.add('exit', `exited (${describeExit(code, signal)})`, name, atMs)
    if (record.kind === 'extension' && code !== null && code !== 0 && !this.#shuttingDown && this.extensions.external(name)?.state === 'Started') {
      this.#exitedBeforeRegistering(name, record)
      return
    }
    if (record.kind === 'extension') {
      const agent = this.extensions.external(name)
      if (agent !== undefined && !agent.ended) {
        // During Shutdown exit 0 is Exited and anything else ShutdownFailed; outside it, any exit is a crash.
        agent.apply(this.#shuttingDown && code === 0 ? 'exit' : this.#shuttingDown ? 'shutdownFailed' : 'exit')
      }
      record.state = agent?.state ?? record.state
    } else if (record.state !== 'LaunchError') {
      // RAPID's runtime states end at Ready/Running; an exited process takes the agents' name (RIE core/agent_state_names.go).
      record.state = 'Exited'
    }
    // A process that never started is a launch error (#spawn reports it), not a crash.
    if (this.#shuttingDown || record.state === 'LaunchError' || entry.process.pid === undefined) {
      return
    }
    this.#crashed(name, record.kind, code, signal)
  }

  /** A process ended outside Shutdown: its crash, unless a fault of the harness or sandbox explains it. */
  #crashed(name: string, kind: ProcessRecord['kind'], code: number | null, signal: NodeJS.Signals | null): void {
    const fault = this.#setup.platformFault?.()
    if (fault !== undefined) {
      this.raiseFatal(fault)
      return
    }
    if (kind === 'runtime') {
      const message = code === 0 && signal === null ? 'Runtime exited without providing a reason' : `Runtime exited with error: ${describeExit(code, signal)}`
      this.raiseFatal({ errorType: 'Runtime.ExitError', message, process: name, resetReason: 'failure' })
    } else {
      this.raiseFatal({ errorType: 'Extension.Crash', message: describeExit(code, signal), process: name, resetReason: 'failure' })
    }
  }

  /**
   * An extension that failed before registering: if the dynamic loader said why (a symbol version,
   * exit 1, or a library its root lacks, exit 127), it never started: Extension.LaunchError with the
   * loader's words. Otherwise a crash, as any other exit. The loader's line is already in the
   * record: an exit is final only once the process's output was read (the supervisor's drain).
   */
  #exitedBeforeRegistering(name: string, record: ProcessRecord): void {
    const agent = this.extensions.external(name)
    const stderr = this.#setup.recorder.record.timeline
      .filter((entry) => entry.kind === 'output' && entry.process === name && entry.detail.startsWith('[stderr] '))
      .map((entry) => entry.detail.slice('[stderr] '.length))
    const loader = loaderError(stderr)
    if (loader !== undefined && agent?.can('launchError') === true) {
      agent.apply('launchError')
      record.state = 'LaunchError'
      this.raiseFatal({ errorType: 'Extension.LaunchError', message: `UnknownError: ${loader}`, process: name, resetReason: 'failure' })
      return
    }
    if (agent !== undefined && !agent.ended) {
      agent.apply('exit')
    }
    record.state = agent?.state ?? record.state
    this.#crashed(name, 'extension', record.exit?.code ?? null, null)
  }

  // ---- Invoke ----------------------------------------------------------------------------

  /**
   * RAPID doInvoke: release the extensions, then the runtime; wait for the runtime's answer,
   * then for its next /next and every INVOKE subscriber's next /event/next, all within the
   * function timeout.
   */
  async invoke(event: InvokeEvent, record: InvocationRecord, initDurationMs?: number): Promise<InvokeOutcome> {
    const { recorder, signal, telemetry } = this.#setup
    this.thaw()
    // One timer for the invoke's three waits, which all end at its deadline.
    const deadline = new Deadline(recorder.atEpoch(event.deadlineMs) - recorder.now())
    const wait = <T>(promise: Promise<T>) => raceUntil(promise, this.#ending.promise, deadline, signal)
    const tracing = event.traceId === undefined ? undefined : { type: 'X-Amzn-Trace-Id', value: event.traceId }
    // The event records are built field by field in their wire order, with no spread of optional
    // parts: `{ a, ...(x ? {} : { b }) }` goes through the runtime's slow object spread, three
    // records per invoke.
    const outcomeFields = (): Record<string, unknown> => {
      const fields: Record<string, unknown> = { requestId: event.requestId, status: record.status }
      if (record.errorType !== undefined) {
        fields.errorType = record.errorType
      }
      return fields
    }
    const withTracing = (fields: Record<string, unknown>): Record<string, unknown> => {
      if (tracing !== undefined) {
        fields.tracing = tracing
      }
      return fields
    }
    const runtimeStartedAtMs = recorder.now()
    let runtimeDone = false
    let maxMemoryUsedMB: number | undefined
    const emitRuntimeDone = (producedBytes: number) => {
      runtimeDone = true
      const fields = outcomeFields()
      fields.metrics = { durationMs: recorder.since(runtimeStartedAtMs), producedBytes }
      telemetry.platform('platform.runtimeDone', withTracing(fields))
    }
    const finish = (reset: ShutdownReason | undefined): InvokeOutcome => {
      deadline.clear()
      record.durationMs = recorder.since(record.startedAtMs)
      if (!runtimeDone) {
        emitRuntimeDone(0)
      }
      const billed = Math.ceil(record.durationMs) + (initDurationMs === undefined ? 0 : Math.ceil(initDurationMs))
      maxMemoryUsedMB ??= this.#peakMemoryMB()
      const metrics: Record<string, unknown> = {
        durationMs: record.durationMs,
        billedDurationMs: billed,
        memorySizeMB: this.#setup.memoryMB,
        maxMemoryUsedMB: maxMemoryUsedMB ?? 0,
      }
      if (initDurationMs !== undefined) {
        metrics.initDurationMs = initDurationMs
      }
      const fields = outcomeFields()
      fields.metrics = metrics
      telemetry.platform('platform.report', withTracing(fields))
      recorder.add('phase', `END RequestId: ${event.requestId} (${record.status}${record.errorType === undefined ? '' : `, ${record.errorType}`})`)
      if (reset !== undefined) {
        record.resetReason = reset
      }
      return { record, reset }
    }

    telemetry.platform('platform.start', withTracing({ requestId: event.requestId, version: '$LATEST' }))
    // RAPID releases the extensions first, then the runtime; the INVOKE event is built only when
    // an extension takes it.
    const subscribers = this.extensions.registered.filter((agent) => agent.subscribed('INVOKE') && !agent.ended)
    const extensionEvent = subscribers.length === 0 ? undefined : extensionInvokeEvent(event)
    const extensionsDone = extensionEvent === undefined ? [] : subscribers.map((agent) => agent.deliver(extensionEvent))
    const { answer, nextCalled } = this.runtime.deliver(event)

    const answered = await wait(answer)
    if (answered.kind === 'fatal' && answered.fatal === INTERRUPTED) {
      // Unanswered: the caller got nothing. The final Shutdown still runs on this generation.
      record.status = 'failure'
      record.interrupted = true
      return finish(undefined)
    }
    if (answered.kind !== 'value') {
      this.#failInvoke(record, answered.kind === 'fatal' ? answered.fatal : undefined)
      return finish(answered.kind === 'fatal' ? answered.fatal.resetReason : 'timeout')
    }
    this.#applyAnswer(record, answered.value)
    // The handler is done: its peak is read now, while the runtime reads our 202 and calls /next
    // (the main thread would otherwise wait for that), not on the way back to the caller.
    maxMemoryUsedMB = this.#peakMemoryMB()
    const runtimeNext = await wait(nextCalled)
    if (runtimeNext.kind === 'value') {
      emitRuntimeDone(answered.value.kind === 'tooLarge' ? answered.value.size : answered.value.payload.length)
    }
    // With no INVOKE subscriber there is nothing more to wait for (and no race to build).
    const done = runtimeNext.kind !== 'value' || extensionsDone.length === 0 ? runtimeNext : await wait(Promise.all(extensionsDone))
    if (done.kind === 'fatal' && done.fatal === INTERRUPTED) {
      // Answered; what the runtime or the extensions did after it was cut short.
      record.interrupted = true
      return finish(undefined)
    }
    if (done.kind !== 'value') {
      // The caller already has its response; the invoke still ends in a timeout or a failure.
      // LAMBDA-SPEC §3.4: 'failure' only for a Sandbox.* fatal error, 'error' otherwise (as #failInvoke).
      record.status = done.kind === 'deadline' ? 'timeout' : done.fatal.errorType.startsWith('Sandbox.') ? 'failure' : 'error'
      record.errorType = done.kind === 'deadline' ? CALLER_TIMEOUT_ERROR_TYPE : done.fatal.errorType
      return finish(done.kind === 'deadline' ? 'timeout' : done.fatal.resetReason)
    }
    return finish(undefined)
  }

  /** The runtime's VmHWM in MB, for REPORT. */
  #peakMemoryMB(): number | undefined {
    this.#runtimeMemory ??= new PeakMemory(this.#processes.get('runtime')?.process.pid)
    return this.#runtimeMemory.read()
  }

  #applyAnswer(record: InvocationRecord, answer: RuntimeAnswer): void {
    if (answer.kind === 'response') {
      record.status = 'success'
      record.response = answer.payload.toString('utf8')
      record.contentType = answer.contentType
      return
    }
    record.status = 'error'
    record.functionError = 'Unhandled'
    if (answer.kind === 'error') {
      record.errorType = answer.errorType
      record.response = answer.payload.toString('utf8')
      record.contentType = answer.contentType
      return
    }
    record.errorType = 'Function.ResponseSizeTooLarge'
    record.contentType = PLATFORM_ERROR
    record.response = JSON.stringify({
      errorMessage: `Response payload size (${answer.size} bytes) exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`,
      errorType: 'Function.ResponseSizeTooLarge',
    })
  }

  #failInvoke(record: InvocationRecord, fatal: Fatal | undefined): void {
    record.functionError = 'Unhandled'
    record.contentType = PLATFORM_ERROR
    if (fatal === undefined) {
      record.status = 'timeout'
      record.errorType = CALLER_TIMEOUT_ERROR_TYPE
      record.response = platformErrorBody(record.requestId, CALLER_TIMEOUT_ERROR_TYPE, timeoutMessage(this.#setup.functionTimeoutMs))
      return
    }
    record.status = fatal.errorType.startsWith('Sandbox.') ? 'failure' : 'error'
    record.errorType = fatal.errorType
    record.response = platformErrorBody(record.requestId, fatal.errorType, fatal.message)
  }

  /** The harness was interrupted: the invoke in progress, and any later one, ends at once. */
  interrupt(): void {
    this.#ending.resolve(INTERRUPTED)
  }

  // ---- Freeze ----------------------------------------------------------------------------

  freeze(): void {
    for (const process of this.liveProcesses) {
      process.freeze()
      this.#signalled(process.name, 'SIGSTOP', 'freeze', 'freeze between invokes')
    }
  }

  thaw(): void {
    // On every invoke's path: no array copies when nothing is frozen.
    for (const { process } of this.#processes.values()) {
      if (process.alive && process.frozen) {
        process.thaw()
        this.#signalled(process.name, 'SIGCONT', 'thaw', 'thaw')
      }
    }
  }

  #signalled(name: string, signal: NodeJS.Signals, reason: SignalReason, why: string, atMs = this.#setup.recorder.now()): void {
    const { recorder } = this.#setup
    this.processRecord(name)?.signals.push({ signal, atMs, reason, why })
    recorder.add('signal', `${signal} (${why})`, name, atMs)
  }

  #kill(name: string, reason: SignalReason, why: string): void {
    const entry = this.#processes.get(name)
    if (entry !== undefined && entry.process.alive) {
      const atMs = this.#setup.recorder.now()
      const pid = entry.process.pid
      if (pid !== undefined) {
        // Stopped at the deadline, so reading what it holds from /proc (milliseconds under load)
        // gives it no extra time to run; then noted before the signal takes it all away.
        entry.process.signal('SIGSTOP')
        const held = heldResources(descendants(pid), this.#setup.probeFolders, this.#setup.ownSockets)
        const tcp = held.tcp.filter((c) => c.remote !== this.#setup.apiAddress)
        if (tcp.length > 0 || held.files.length > 0) {
          entry.record.heldAtKill = { tcp, files: held.files }
          const what = [...tcp.map((c) => `tcp ${c.local} → ${c.remote} ${c.state}`), ...held.files]
          this.#setup.recorder.add('signal', `held when killed: ${what.join('; ')}`, name, atMs)
        }
      }
      entry.process.signal('SIGKILL')
      entry.record.killed = true
      this.#signalled(name, 'SIGKILL', reason, why, atMs)
    }
  }

  // ---- Shutdown --------------------------------------------------------------------------

  /**
   * RAPID rapid/shutdown.go: with no extension SIGKILL the runtime; otherwise SIGTERM it, wait
   * for its exit up to its share, SIGKILL; only then SHUTDOWN to subscribed externals (the
   * rest are SIGKILLed at once), wait for their exits until the deadline, SIGKILL stragglers.
   */
  async shutdown(reason: ShutdownReason, final: boolean): Promise<ShutdownRecord> {
    const { recorder } = this.#setup
    this.#shuttingDown = true
    this.thaw()
    this.runtime.close()
    for (const waiter of this.#registrationWaiters.values()) {
      waiter.resolve()
    }
    const startedAtMs = recorder.now()
    const plan = planShutdown({
      externals: this.#setup.extensionFiles.length,
      internals: this.extensions.internals.length,
      runtimeShutdownMs: this.#setup.runtimeShutdownMs,
    })
    const deadlineAtMs = roundMs(startedAtMs + plan.windowMs)
    const record: ShutdownRecord = {
      reason,
      final,
      startedAtMs,
      durationMs: 0,
      windowMs: plan.windowMs,
      runtimeShareMs: plan.runtimeShareMs,
      deadlineEpochMs: recorder.epochAt(deadlineAtMs),
      deadlineAtMs,
      runtime: this.processRecord('runtime') ?? null,
      extensions: this.#setup.extensionFiles.map((f) => this.processRecord(f.name)).filter((r): r is ProcessRecord => r !== undefined),
      orphans: [],
    }
    recorder.add('phase', `Shutdown start (reason ${reason}, window ${plan.windowMs} ms, runtime share ${plan.runtimeShareMs} ms)`)

    const runtime = this.#processes.get('runtime')
    if (runtime !== undefined && runtime.process.alive) {
      if (plan.sigterm) {
        runtime.record.sigtermHandler = catchesSigterm(runtime.process.pid)
        runtime.record.waitingForNext = this.runtime.state === 'Ready'
        runtime.process.signal('SIGTERM')
        this.#signalled('runtime', 'SIGTERM', 'shutdown', 'shutdown')
        const exited = await this.#waitExit(runtime.process, startedAtMs + plan.runtimeShareMs - recorder.now())
        if (!exited) {
          this.#kill('runtime', 'runtime-share-over', `runtime share of ${plan.runtimeShareMs} ms over`)
        }
      } else {
        this.#kill('runtime', 'no-extensions', 'shutdown without extensions')
      }
      await this.#waitExit(runtime.process, MAX_PROCESS_EXIT_WAIT_MS)
    }

    // Classic RAPID (internal/lambda/rapid/shutdown.go) sends SHUTDOWN once the runtime is gone;
    // Managed Instances first flush telemetry, 1 s at most (lambda-managed-instances/rapid/shutdown.go).
    if (this.#setup.flushTelemetryBeforeShutdown) {
      await this.#setup.telemetry.flush(Math.max(0, Math.min(1000, deadlineAtMs - recorder.now())))
    }
    this.#setup.telemetry.shutdownStarts()
    const shutdownEvent = { eventType: 'SHUTDOWN' as const, shutdownReason: reason, deadlineMs: record.deadlineEpochMs }
    const awaiting: SupervisedProcess[] = []
    for (const file of this.#setup.extensionFiles) {
      const entry = this.#processes.get(file.name)
      const agent = this.extensions.external(file.name)
      if (entry === undefined || !entry.process.alive) {
        continue
      }
      if (agent !== undefined && agent.subscribed('SHUTDOWN') && agent.state !== 'Started') {
        void agent.deliver(shutdownEvent)
        awaiting.push(entry.process)
      } else {
        this.#kill(file.name, 'not-subscribed', 'not subscribed to SHUTDOWN')
      }
    }
    await Promise.all(
      awaiting.map(async (process) => {
        if (!(await this.#waitExit(process, deadlineAtMs - recorder.now()))) {
          this.#kill(process.name, 'deadline', `deadline (${plan.windowMs} ms) reached`)
        }
      }),
    )
    await Promise.all(this.liveProcesses.map((process) => this.#waitExit(process, MAX_PROCESS_EXIT_WAIT_MS)))
    await this.#groupsKilledGone()
    record.orphans = this.#reapGroups()
    record.durationMs = recorder.since(startedAtMs)
    recorder.add('phase', `Shutdown end (${record.durationMs.toFixed(1)} ms)`)
    return record
  }

  async #waitExit(process: SupervisedProcess, waitMs: number): Promise<boolean> {
    if (!process.alive) {
      return true
    }
    const result = await raceUntil(process.exited, new Promise<never>(() => undefined), waitMs, this.#setup.signal)
    return result.kind === 'value'
  }

  /** Every process this generation started, alive or not. */
  get supervised(): SupervisedProcess[] {
    return [...this.#processes.values()].map((entry) => entry.process)
  }

  /**
   * The group of a process we SIGKILLed dies with it, but its other members may still be exiting
   * when the leader's exit is seen (a bootstrap's curl, under load): they are not orphans. Bounded.
   */
  async #groupsKilledGone(): Promise<void> {
    const killed = [...this.#processes.values()].filter(({ process, record }) => record.killed && process.pid !== undefined && !process.alive)
    for (let waitedMs = 0; waitedMs < MAX_GROUP_DEATH_WAIT_MS && killed.some(({ process }) => groupMembers(process.pid as number).length > 0); waitedMs += 5) {
      await sleep(5, undefined, { signal: this.#setup.signal }).catch(() => undefined)
    }
  }

  /** SIGKILLs whatever is left in each process group; anything that was left is an orphan. */
  #reapGroups(): { group: string; pids: number[] }[] {
    const orphans: { group: string; pids: number[] }[] = []
    for (const { process } of this.#processes.values()) {
      if (process.pid !== undefined && !process.alive) {
        const pids = groupMembers(process.pid)
        if (pids.length > 0) {
          orphans.push({ group: process.name, pids })
          this.#setup.recorder.add('signal', `SIGKILL to ${pids.length} leftover process(es) of its group: ${pids.join(', ')}`, process.name)
        }
      }
      process.destroy()
    }
    return orphans
  }

  /** Dispose: no ceremony, every group SIGKILLed, then each process reaped (bounded). */
  async destroy(): Promise<void> {
    this.#shuttingDown = true
    this.runtime.close()
    this.#runtimeMemory?.close()
    const processes = [...this.#processes.values()].map((entry) => entry.process)
    for (const process of processes) {
      process.destroy()
    }
    const cap = new AbortController()
    const timeout = sleep(MAX_PROCESS_EXIT_WAIT_MS, undefined, { signal: cap.signal }).catch(() => undefined)
    await Promise.all(processes.map((process) => Promise.race([process.exited, timeout])))
    cap.abort()
  }
}
