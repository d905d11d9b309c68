// One generation of a sandbox: the processes and agents from one Init to the Shutdown or reset
// that ends them. A thin adapter: the algorithms are lifecycle/phases; this wires real processes,
// the recorder, /proc evidence and the telemetry hub to their ports.
import type { ShutdownReason } from '../config/options.js'
import { describeExit } from '../lifecycle/error-types.js'
import { ExtensionRegistry, type ExtensionAgent } from '../lifecycle/extensions.js'
import type { InvokeEvent } from '../lifecycle/events.js'
import { crashFatal, extensionExited } from '../lifecycle/phases/exits.js'
import { Registrations, runInit, type InitPorts } from '../lifecycle/phases/init.js'
import { runInvoke, type InvokeOutcome as PhaseOutcome, type InvokePorts } from '../lifecycle/phases/invoke.js'
import { INTERRUPTED, type Clock, type Fatal, type ProcessStarter, type Timeline } from '../lifecycle/phases/ports.js'
import { runShutdown } from '../lifecycle/phases/shutdown.js'
import type { PlatformEvents } from '../lifecycle/platform-events.js'
import { RuntimeAgent } from '../lifecycle/runtime.js'
import { MAX_PROCESS_EXIT_WAIT_MS } from '../lifecycle/shutdown-plan.js'
import type { TableListener } from '../probes/processes.js'
import type { Recorder } from '../record/recorder.js'
import type { InitRecord, InvocationRecord, ProcessRecord, ShutdownRecord } from '../record/run-record.js'
import { groupMembers, PeakMemory } from '../supervisor/process-groups.js'
import type { ProcessExit, ProcessHost, SpawnSpec, SupervisedProcess } from '../supervisor/supervisor.js'
import { deferred, REAL_TIMERS } from '../wait/index.js'
import { setTimeout as sleep } from 'node:timers/promises'
import { loaderError } from './loader-error.js'
import { launchFatal, SandboxProcess } from './process-port.js'

export type { Fatal } from '../lifecycle/phases/ports.js'

/** How long the rest of a SIGKILLed process's group may take to die before it counts as orphans. */
const MAX_GROUP_DEATH_WAIT_MS = 100

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
  readonly telemetry: PlatformEvents
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
  /** Learns the connections still waiting to be learnt from TCP table rows a kill path read anyway. */
  readonly learnOwnSockets: TableListener
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

export type InvokeOutcome = PhaseOutcome<InvocationRecord>

/** The recorder's clock with real timers. */
function recorderClock(recorder: Recorder): Clock {
  return {
    now: () => recorder.now(),
    since: (startedAtMs) => recorder.since(startedAtMs),
    epochAt: (atMs) => recorder.epochAt(atMs),
    atEpoch: (epochMs) => recorder.atEpoch(epochMs),
    setTimer: REAL_TIMERS.setTimer,
    clearTimer: REAL_TIMERS.clearTimer,
  }
}

export class Generation {
  readonly runtime = new RuntimeAgent()
  readonly extensions: ExtensionRegistry
  readonly #setup: GenerationSetup
  readonly #clock: Clock
  readonly #timeline: Timeline
  readonly #processes = new Map<string, SandboxProcess>()
  readonly #registrations = new Registrations()
  readonly #fatal = deferred<Fatal>()
  /** What ends an invoke's waits early: the first fatal error (settled with it, no later), or the harness's interruption. */
  readonly #ending = deferred<Fatal>()
  #firstFatal: Fatal | undefined
  #shuttingDown = false
  /** The runtime's VmHWM, for REPORT: opened at the first invoke, closed when the runtime exits. */
  #runtimeMemory: PeakMemory | undefined
  readonly #invokePorts: InvokePorts

  constructor(setup: GenerationSetup) {
    this.#setup = setup
    this.extensions = new ExtensionRegistry(setup.extensionFiles.map((file) => file.name))
    this.#clock = recorderClock(setup.recorder)
    this.#timeline = { phase: (detail, process) => setup.recorder.add('phase', detail, process) }
    this.#invokePorts = {
      clock: this.#clock,
      events: setup.telemetry,
      extensions: this.extensions,
      runtime: this.runtime,
      timeline: this.#timeline,
      ending: this.#ending.promise,
      signal: setup.signal,
      memorySizeMB: setup.memoryMB,
      functionTimeoutMs: setup.functionTimeoutMs,
      peakMemoryMB: () => this.#peakMemoryMB(),
    }
  }

  get fatal(): Promise<Fatal> {
    return this.#fatal.promise
  }

  /** The first fatal error, once there is one. */
  get fatalError(): Fatal | undefined {
    return this.#firstFatal
  }

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

  /** Every process this generation started, alive or not. */
  get supervised(): SupervisedProcess[] {
    return [...this.#processes.values()].map((entry) => entry.process)
  }

  // ---- Init ------------------------------------------------------------------------------

  async init(phase: 'init' | 'invoke', timeoutMs: number): Promise<InitRecord> {
    const ports: InitPorts = {
      clock: this.#clock,
      events: this.#setup.telemetry,
      extensions: this.extensions,
      runtime: this.runtime,
      processes: this.#starter,
      timeline: this.#timeline,
      registrations: this.#registrations,
      fatal: this.fatal,
      raiseFatal: (fatal) => this.raiseFatal(fatal),
      signal: this.#setup.signal,
    }
    const input = { phase, timeoutMs, generation: this.#setup.index, functionName: this.#setup.functionName, externals: this.#setup.extensionFiles.map((file) => file.name) }
    return runInit(input, ports)
  }

  /** Called by the API port when an agent registered. */
  registered(agent: ExtensionAgent): void {
    const record = this.processRecord(agent.name)
    if (record !== undefined && agent.external) {
      record.subscribed = [...agent.events]
      record.state = agent.state
    }
    this.#registrations.registered(agent.name)
  }

  readonly #starter: ProcessStarter = {
    start: (name, kind) => this.#start(name, kind),
    process: (name) => this.#processes.get(name),
  }

  async #start(name: string, kind: 'runtime' | 'extension'): Promise<SandboxProcess | undefined> {
    const file = kind === 'extension' ? this.#setup.extensionFiles.find((each) => each.name === name) : undefined
    const spec: SpawnSpec =
      file === undefined
        ? this.#setup.runtimeSpec()
        : { name, kind, file: file.path, args: [], cwd: this.#setup.extensionCwd, env: { ...this.#setup.extensionEnv, ...this.#setup.processEnv(name) } }
    const process = new SandboxProcess(spec, {
      recorder: this.#setup.recorder,
      generation: this.#setup.index,
      signal: this.#setup.signal,
      host: this.#setup.host,
      probeFolders: this.#setup.probeFolders,
      apiAddress: this.#setup.apiAddress,
      ownSockets: this.#setup.ownSockets,
      learnOwnSockets: this.#setup.learnOwnSockets,
      onLine: (p, line) => this.#setup.telemetry.line(p.record.kind === 'runtime' ? 'function' : 'extension', p.name, line),
      onExit: (p, exit) => this.#exited(p, exit),
    })
    if (kind === 'runtime') {
      process.beforeTerminate = (record) => {
        record.waitingForNext = this.runtime.state === 'Ready'
      }
    }
    this.#processes.set(spec.name, process)
    const failure = await process.process.launched
    if (failure === undefined) {
      return process
    }
    process.record.state = 'LaunchError'
    this.#setup.recorder.add('spawn', `could not start ${spec.file}: ${failure.code}`, spec.name)
    if (failure.code === 'EMFILE' || failure.code === 'ENFILE') {
      this.#setup.outOfFds?.(`starting ${spec.name}: ${failure.code}`)
    }
    this.raiseFatal(this.#setup.platformFault?.() ?? launchFatal(spec, failure, file?.hostPath ?? file?.path, this.#setup.runtimeNotFound))
    return undefined
  }

  #exited(process: SandboxProcess, exit: ProcessExit): void {
    const { record, name } = process
    const { code, signal } = exit
    if (record.kind === 'runtime') {
      this.#runtimeMemory?.close()
    }
    record.exit = { code, signal }
    record.exitedAtMs = exit.atMs
    this.#setup.telemetry.exited(name, { code, signal })
    this.#setup.recorder.add('exit', `exited (${describeExit(code, signal)})`, name, exit.atMs)
    const agent = record.kind === 'extension' ? this.extensions.external(name) : undefined
    if (agent !== undefined && code !== null && code !== 0 && !this.#shuttingDown && agent.state === 'Started') {
      this.#exitedBeforeRegistering(process)
      return
    }
    if (record.kind === 'extension') {
      extensionExited(agent, this.#shuttingDown, code)
      record.state = agent?.state ?? record.state
    } else if (record.state !== 'LaunchError') {
      // RAPID's runtime states end at Ready/Running; an exited process takes the agents' name (RIE core/agent_state_names.go).
      record.state = 'Exited'
    }
    // A process that never started is a launch error (#start reports it), not a crash.
    if (this.#shuttingDown || record.state === 'LaunchError' || process.process.pid === undefined) {
      return
    }
    this.#crashed(name, record.kind, code, signal)
  }

  /** A process ended outside Shutdown: its crash, unless a fault of the harness or sandbox explains it. */
  #crashed(name: string, kind: ProcessRecord['kind'], code: number | null, signal: NodeJS.Signals | null): void {
    this.raiseFatal(this.#setup.platformFault?.() ?? crashFatal(kind, name, code, signal))
  }

  /**
   * An extension that failed before registering: if the dynamic loader said why (exit 1 or 127),
   * it never started: Extension.LaunchError with the loader's words; otherwise a crash. The
   * loader's line is already in the record (an exit is final once the output was drained).
   */
  #exitedBeforeRegistering(process: SandboxProcess): void {
    const { name, record } = process
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
    extensionExited(agent, false, record.exit?.code ?? null)
    record.state = agent?.state ?? record.state
    this.#crashed(name, 'extension', record.exit?.code ?? null, null)
  }

  // ---- Invoke ----------------------------------------------------------------------------

  invoke(event: InvokeEvent, record: InvocationRecord, initDurationMs?: number): Promise<InvokeOutcome> {
    this.thaw()
    return runInvoke(this.#invokePorts, event, record, initDurationMs)
  }

  /** The runtime's VmHWM in MB, for REPORT. */
  #peakMemoryMB(): number | undefined {
    this.#runtimeMemory ??= new PeakMemory(this.#processes.get('runtime')?.process.pid)
    return this.#runtimeMemory.read()
  }

  /** The harness was interrupted: the invoke in progress, and any later one, ends at once. */
  interrupt(): void {
    this.#ending.resolve(INTERRUPTED)
  }

  // ---- Freeze ----------------------------------------------------------------------------

  freeze(): void {
    for (const process of this.#processes.values()) {
      if (process.alive) {
        process.process.freeze()
        process.signalled('SIGSTOP', 'freeze', 'freeze between invokes')
      }
    }
  }

  thaw(): void {
    // On every invoke's path: no array copies when nothing is frozen.
    for (const process of this.#processes.values()) {
      if (process.alive && process.process.frozen) {
        process.process.thaw()
        process.signalled('SIGCONT', 'thaw', 'thaw')
      }
    }
  }

  // ---- Shutdown --------------------------------------------------------------------------

  async shutdown(reason: ShutdownReason, final: boolean): Promise<ShutdownRecord> {
    const { recorder } = this.#setup
    this.#shuttingDown = true
    this.thaw()
    this.runtime.close()
    this.#registrations.releaseAll()
    const externals = this.#setup.extensionFiles.map((file) => file.name)
    const outcome = await runShutdown(
      { reason, externals, runtimeShutdownMs: this.#setup.runtimeShutdownMs, flushTelemetryBeforeShutdown: this.#setup.flushTelemetryBeforeShutdown },
      { clock: this.#clock, events: this.#setup.telemetry, extensions: this.extensions, processes: this.#starter, timeline: this.#timeline },
    )
    await Promise.all([...this.#processes.values()].filter((process) => process.alive).map((process) => process.waitExit(MAX_PROCESS_EXIT_WAIT_MS)))
    await this.#groupsKilledGone()
    const record: ShutdownRecord = {
      reason,
      final,
      startedAtMs: outcome.startedAtMs,
      durationMs: 0,
      windowMs: outcome.plan.windowMs,
      runtimeShareMs: outcome.plan.runtimeShareMs,
      deadlineEpochMs: outcome.deadlineEpochMs,
      deadlineAtMs: outcome.deadlineAtMs,
      runtime: this.processRecord('runtime') ?? null,
      extensions: externals.map((name) => this.processRecord(name)).filter((r): r is ProcessRecord => r !== undefined),
      orphans: this.#reapGroups(),
    }
    record.durationMs = recorder.since(outcome.startedAtMs)
    recorder.add('phase', `Shutdown end (${record.durationMs.toFixed(1)} ms)`)
    return record
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
    const processes = this.supervised
    for (const process of processes) {
      process.destroy()
    }
    const cap = new AbortController()
    const timeout = sleep(MAX_PROCESS_EXIT_WAIT_MS, undefined, { signal: cap.signal }).catch(() => undefined)
    await Promise.all(processes.map((process) => Promise.race([process.exited, timeout])))
    cap.abort()
  }
}
