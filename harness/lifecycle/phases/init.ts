// Init as RAPID's initFlow (internal/lambda/rapid/start.go, core/registrations.go): externals start
// in file-name order, the runtime starts once every external registered, and Init ends when the
// runtime and every registered extension have called next.
import { deferred, waitFor, type WaitResult } from '../../wait/index.js'
import type { ExtensionAgent, ExtensionRegistry } from '../extensions.js'
import type { EventStatus, InitPhase, PlatformEvents } from '../platform-events.js'
import type { RuntimeAgent } from '../runtime.js'
import type { Clock, Fatal, ProcessStarter, Timeline } from './ports.js'

/** How long a runtime that posted /init/error may take to exit by itself (the RIC calls sys.exit(1)). */
const INIT_ERROR_EXIT_WAIT_MS = 1000

export interface InitInput {
  readonly phase: InitPhase
  readonly timeoutMs: number
  readonly generation: number
  readonly functionName: string
  /** The external extensions' names, in file-name order. */
  readonly externals: readonly string[]
}

export interface InitPorts {
  readonly clock: Clock
  readonly events: Pick<PlatformEvents, 'platform' | 'initDone'>
  readonly extensions: ExtensionRegistry
  readonly runtime: RuntimeAgent
  readonly processes: ProcessStarter
  readonly timeline: Timeline
  readonly registrations: Registrations
  /** Settles with the generation's first fatal error. */
  readonly fatal: Promise<Fatal>
  raiseFatal(fatal: Fatal): void
  readonly signal: AbortSignal
}

export interface InitOutcome {
  status: EventStatus
  phase: InitPhase
  errorType?: string
  durationMs: number
  startedAtMs: number
  /** The agents that registered, internal ones included. */
  extensions: { name: string; external: boolean; events: string[]; state: string }[]
}

/** The gates Init waits on until each external has called /register. */
export class Registrations {
  readonly #waiters = new Map<string, { resolve(): void }>()

  /** Settles when `agent` has registered (at once if it has). */
  gate(agent: ExtensionAgent): Promise<void> {
    const gate = deferred<void>()
    if (agent.state !== 'Started') {
      gate.resolve()
    } else {
      this.#waiters.set(agent.name, gate)
    }
    return gate.promise
  }

  registered(name: string): void {
    this.#waiters.get(name)?.resolve()
    this.#waiters.delete(name)
  }

  /** Shutdown: nobody waits any more. */
  releaseAll(): void {
    for (const waiter of this.#waiters.values()) {
      waiter.resolve()
    }
  }
}

interface Run {
  readonly input: InitInput
  readonly ports: InitPorts
  readonly outcome: InitOutcome
  readonly deadlineAtMs: number
  runtimeDone: boolean
}

export async function runInit(input: InitInput, ports: InitPorts): Promise<InitOutcome> {
  const { clock, extensions, runtime } = ports
  const startedAtMs = clock.now()
  const run: Run = { input, ports, outcome: { status: 'success', phase: input.phase, durationMs: 0, startedAtMs, extensions: [] }, deadlineAtMs: startedAtMs + input.timeoutMs, runtimeDone: false }
  ports.timeline.phase(`Init start (phase ${input.phase}, generation ${input.generation})`)
  ports.events.platform('platform.initStart', { initializationType: 'on-demand', phase: input.phase, functionName: input.functionName, functionVersion: '$LATEST' })
  for (const name of input.externals) {
    if ((await ports.processes.start(name, 'extension')) === undefined) {
      const agent = extensions.external(name)
      if (agent?.can('launchError') === true) {
        agent.apply('launchError')
      }
      return finish(run, 'error', 'Extension.LaunchError')
    }
  }
  const registered = await wait(run, Promise.all(extensions.externals.map((agent) => ports.registrations.gate(agent))))
  if (registered.kind !== 'value') {
    return failed(run, registered)
  }
  if ((await ports.processes.start('runtime', 'runtime')) === undefined) {
    return finish(run, 'error', 'Runtime.InvalidEntrypoint')
  }
  const runtimeInit = await wait(run, runtime.initDone)
  if (runtimeInit.kind !== 'value') {
    return failed(run, runtimeInit)
  }
  run.runtimeDone = true
  if (runtimeInit.value !== undefined) {
    return runtimeInitError(run, runtimeInit.value.errorType, runtimeInit.value.payload)
  }
  ports.events.platform('platform.initRuntimeDone', { initializationType: 'on-demand', phase: input.phase, status: 'success' })
  // The runtime's first /next closes registration: internal extensions are now fixed.
  extensions.closeRegistration()
  const ready = await wait(run, Promise.all(extensions.registered.map((agent) => agent.ready)))
  if (ready.kind !== 'value') {
    return failed(run, ready)
  }
  for (const agent of extensions.registered) {
    ports.timeline.phase(`EXTENSION Name: ${agent.name} State: ${agent.state} Events: [${[...agent.events].join(', ')}]`, agent.name)
  }
  return finish(run, 'success')
}

function wait<T>(run: Run, promise: Promise<T>): Promise<WaitResult<T, Fatal>> {
  const { ports } = run
  return waitFor(promise, { fatal: ports.fatal, deadline: run.deadlineAtMs - ports.clock.now(), signal: ports.signal, timers: ports.clock })
}

/** /init/error: the runtime's error is the fatal one; it may exit by itself within the Init limit. */
async function runtimeInitError(run: Run, errorType: string, payload: Buffer): Promise<InitOutcome> {
  const { ports } = run
  ports.events.platform('platform.initRuntimeDone', { initializationType: 'on-demand', phase: run.input.phase, status: 'error', errorType })
  ports.raiseFatal({ errorType, message: 'init error', process: 'runtime', resetReason: 'failure', body: payload })
  // Its own exit in the record rather than our SIGKILL.
  await ports.processes.process('runtime')?.waitExit(Math.min(INIT_ERROR_EXIT_WAIT_MS, run.deadlineAtMs - ports.clock.now()))
  return finish(run, 'error', errorType)
}

function failed(run: Run, result: { kind: 'fatal'; fatal: Fatal } | { kind: 'deadline' }): InitOutcome {
  if (result.kind === 'fatal') {
    return finish(run, 'error', result.fatal.errorType)
  }
  run.ports.raiseFatal({ errorType: 'Sandbox.Timeout', message: 'Init timed out', process: 'platform', resetReason: 'timeout' })
  return finish(run, 'timeout', 'Sandbox.Timeout')
}

/** INIT_RUNTIME_DONE (unless sent), an EXTENSION event per registered agent, INIT_REPORT. */
function finish(run: Run, status: EventStatus, errorType?: string): InitOutcome {
  const { ports, outcome } = run
  const { events } = ports
  const phase = run.input.phase
  outcome.status = status
  if (errorType !== undefined) {
    outcome.errorType = errorType
  }
  outcome.durationMs = ports.clock.since(outcome.startedAtMs)
  if (!run.runtimeDone) {
    events.platform('platform.initRuntimeDone', errorType === undefined ? { initializationType: 'on-demand', phase, status } : { initializationType: 'on-demand', phase, status, errorType })
  }
  for (const agent of ports.extensions.registered) {
    const events = [...agent.events]
    ports.events.platform('platform.extension', agent.reportedError === undefined ? { name: agent.name, state: agent.state, events } : { name: agent.name, state: agent.state, events, errorType: agent.reportedError })
  }
  const metrics = { durationMs: outcome.durationMs }
  events.platform('platform.initReport', errorType === undefined ? { initializationType: 'on-demand', phase, status, metrics } : { initializationType: 'on-demand', phase, status, errorType, metrics })
  if (status === 'success') {
    events.initDone()
  }
  outcome.extensions = ports.extensions.registered.map((agent) => ({ name: agent.name, external: agent.external, events: [...agent.events], state: agent.state }))
  ports.timeline.phase(`Init end: ${status}${errorType === undefined ? '' : ` (${errorType})`}`)
  return outcome
}
