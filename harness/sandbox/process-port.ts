// The lifecycle's process port over a real process: SupervisedProcess, its ProcessRecord, and the
// /proc evidence taken when it is signalled (what it held at SIGKILL, whether it catches SIGTERM).
import { existsSync, lstatSync, realpathSync } from 'node:fs'
import { missingInterpreterMessage, shebangInterpreter } from '../config/preflight.js'
import type { Fatal, ProcessPort } from '../lifecycle/phases/ports.js'
import type { SignalReason } from '../lifecycle/signal-reasons.js'
import { heldResources, type TableListener } from '../probes/processes.js'
import type { Recorder } from '../record/recorder.js'
import type { ProcessRecord } from '../record/run-record.js'
import { catchesSigterm, descendants } from '../supervisor/process-groups.js'
import { SupervisedProcess, type LaunchFailure, type ProcessExit, type ProcessHost, type SpawnSpec } from '../supervisor/supervisor.js'
import { waitFor } from '../wait/index.js'

/** What a process needs from its sandbox. */
export interface ProcessContext {
  readonly recorder: Recorder
  readonly generation: number
  readonly signal: AbortSignal
  /** Starts every process inside the sandbox's namespaces; undefined in plain mode. */
  readonly host: ProcessHost
  /** Folders whose open files are worth naming when a process is killed. */
  readonly probeFolders: readonly string[]
  /** host:port of our own API: a killed process's connection to it is not news. */
  readonly apiAddress: string
  readonly ownSockets: ReadonlySet<string>
  readonly learnOwnSockets: TableListener
  onLine(process: SandboxProcess, line: string): void
  onExit(process: SandboxProcess, exit: ProcessExit): void
}

const NEVER = new Promise<never>(() => undefined)

export class SandboxProcess implements ProcessPort {
  readonly process: SupervisedProcess
  readonly record: ProcessRecord
  readonly #context: ProcessContext
  /** Called just before SIGTERM, to note what the lifecycle knows (the runtime's /next). */
  beforeTerminate: ((record: ProcessRecord) => void) | undefined

  /** Starts `spec` at once; `launched` tells whether it runs. */
  constructor(spec: SpawnSpec, context: ProcessContext) {
    this.#context = context
    const { recorder } = context
    this.record = recorder.process({
      name: spec.name,
      kind: spec.kind,
      generation: context.generation,
      pid: null,
      startedAtMs: recorder.now(),
      state: 'Started',
      signals: [],
      events: [],
      exit: null,
      exitedAtMs: null,
      killed: false,
    })
    this.process = new SupervisedProcess(spec, context.host, {
      now: () => recorder.now(),
      // In the timeline before anything the process said.
      onStarted: (started) => {
        this.record.pid = started.pid ?? null
        recorder.add('spawn', `started ${spec.file} (pid ${started.pid})`, spec.name)
      },
      onLine: (_p, stream, line) => {
        recorder.output(spec.name, stream, line)
        context.onLine(this, line)
      },
      onExit: (_p, exit) => context.onExit(this, exit),
    })
  }

  get name(): string {
    return this.process.name
  }

  get alive(): boolean {
    return this.process.alive
  }

  terminate(reason: SignalReason, why: string): void {
    this.record.sigtermHandler = catchesSigterm(this.process.pid)
    this.beforeTerminate?.(this.record)
    this.process.signal('SIGTERM')
    this.signalled('SIGTERM', reason, why)
  }

  kill(reason: SignalReason, why: string): void {
    if (!this.process.alive) {
      return
    }
    const atMs = this.#context.recorder.now()
    if (this.process.pid !== undefined) {
      this.#noteHeld(this.process.pid, atMs)
    }
    this.process.signal('SIGKILL')
    this.record.killed = true
    this.signalled('SIGKILL', reason, why, atMs)
  }

  async waitExit(waitMs: number): Promise<boolean> {
    if (!this.process.alive) {
      return true
    }
    const result = await waitFor(this.process.exited, { fatal: NEVER, deadline: waitMs, signal: this.#context.signal })
    return result.kind === 'value'
  }

  signalled(signal: NodeJS.Signals, reason: SignalReason, why: string, atMs = this.#context.recorder.now()): void {
    this.record.signals.push({ signal, atMs, reason, why })
    this.#context.recorder.add('signal', `${signal} (${why})`, this.name, atMs)
  }

  /** Stopped first, so reading /proc gives it no extra time to run; noted before SIGKILL takes it all away. */
  #noteHeld(pid: number, atMs: number): void {
    const { probeFolders, ownSockets, learnOwnSockets, apiAddress, recorder } = this.#context
    this.process.signal('SIGSTOP')
    // The rows read for this process teach the connections other sandboxes still wait on: their kills need no read.
    const held = heldResources(descendants(pid), probeFolders, ownSockets, learnOwnSockets)
    const tcp = held.tcp.filter((c) => c.remote !== apiAddress)
    if (tcp.length > 0 || held.files.length > 0) {
      this.record.heldAtKill = { tcp, files: held.files }
      const what = [...tcp.map((c) => `tcp ${c.local} → ${c.remote} ${c.state}`), ...held.files]
      recorder.add('signal', `held when killed: ${what.join('; ')}`, this.name, atMs)
    }
  }
}

/** RAPID's wording of a launch failure: Extension.LaunchError or Runtime.InvalidEntrypoint. */
export function launchFatal(spec: SpawnSpec, failure: LaunchFailure, hostFile: string | undefined, runtimeNotFound: string | undefined): Fatal {
  const errorType = spec.kind === 'extension' ? 'Extension.LaunchError' : 'Runtime.InvalidEntrypoint'
  const reason = failure.code === 'EACCES' ? 'PermissionDenied' : failure.code === 'ENOENT' ? 'NotFound' : 'UnknownError'
  const notFound = spec.kind === 'runtime' && failure.code === 'ENOENT' ? runtimeNotFound : undefined
  return { errorType, message: notFound ?? `${reason}: ${launchFailureMessage(failure, hostFile)}`, process: spec.name, resetReason: 'failure' }
}

/**
 * ENOENT on a file that exists: its line-1 interpreter is missing, or it is a link out of the
 * layer to a host path the sandbox does not see (its private /tmp, the hidden /root and /home).
 */
function launchFailureMessage(failure: LaunchFailure, hostFile: string | undefined): string {
  if (failure.code !== 'ENOENT' || hostFile === undefined || !existsSync(hostFile)) {
    return failure.message
  }
  const interpreter = shebangInterpreter(hostFile)
  if (interpreter !== undefined && !existsSync(interpreter)) {
    return `${failure.message}: ${missingInterpreterMessage(interpreter)}`
  }
  if (lstatSync(hostFile, { throwIfNoEntry: false })?.isSymbolicLink() === true) {
    return `${failure.message}: it links to ${JSON.stringify(realpathSync(hostFile))}, which is not in the sandbox (its /tmp is its own, /root and /home are hidden; --expose shows a host path)`
  }
  return failure.message
}
