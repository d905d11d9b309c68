// Shutdown as RAPID runs it (internal/lambda/rapid/shutdown.go; LAMBDA-SPEC §3.3): with no
// extension SIGKILL the runtime; otherwise SIGTERM it, wait for its exit up to its share, SIGKILL;
// only then SHUTDOWN to the subscribed externals (the rest are SIGKILLed at once), wait for their
// exits until the deadline, SIGKILL the stragglers.
import type { ShutdownReason } from '../../config/options.js'
import type { ExtensionRegistry } from '../extensions.js'
import type { PlatformEvents } from '../platform-events.js'
import { MAX_PROCESS_EXIT_WAIT_MS, planShutdown, type ShutdownPlan } from '../shutdown-plan.js'
import type { SignalReason } from '../signal-reasons.js'
import { roundMs, type Clock, type ProcessPort, type ProcessStarter, type Timeline } from './ports.js'

/** Managed Instances flush buffered telemetry before SHUTDOWN, for 1 s at most (lambda-managed-instances/rapid/shutdown.go). */
const MAX_FLUSH_MS = 1000

export interface ShutdownInput {
  readonly reason: ShutdownReason
  /** The external extensions' names, in file-name order (an agent per file, registered or not). */
  readonly externals: readonly string[]
  /** --runtime-shutdown-ms; undefined: the docs' share. */
  readonly runtimeShutdownMs: number | undefined
  /** Managed Instances' order: buffered telemetry is flushed between the runtime's exit and SHUTDOWN. */
  readonly flushTelemetryBeforeShutdown: boolean
}

export interface ShutdownPorts {
  readonly clock: Clock
  readonly events: Pick<PlatformEvents, 'flush' | 'shutdownStarts'>
  readonly extensions: ExtensionRegistry
  readonly processes: Pick<ProcessStarter, 'process'>
  readonly timeline: Timeline
}

/** What Shutdown did, in order, at times on the clock. */
export type ShutdownStep =
  | { readonly kind: 'signal'; readonly process: string; readonly signal: 'SIGTERM' | 'SIGKILL'; readonly reason: SignalReason; readonly atMs: number }
  | { readonly kind: 'exited'; readonly process: string; readonly atMs: number }
  | { readonly kind: 'flush'; readonly atMs: number }
  | { readonly kind: 'event'; readonly process: string; readonly event: 'SHUTDOWN'; readonly atMs: number }

export interface ShutdownOutcome {
  readonly plan: ShutdownPlan
  readonly startedAtMs: number
  readonly deadlineAtMs: number
  readonly deadlineEpochMs: number
  readonly steps: ShutdownStep[]
}

interface Run {
  readonly input: ShutdownInput
  readonly ports: ShutdownPorts
  readonly outcome: ShutdownOutcome
}

export async function runShutdown(input: ShutdownInput, ports: ShutdownPorts): Promise<ShutdownOutcome> {
  const { clock } = ports
  const startedAtMs = clock.now()
  const plan = planShutdown({ externals: input.externals.length, internals: ports.extensions.internals.length, runtimeShutdownMs: input.runtimeShutdownMs })
  const deadlineAtMs = roundMs(startedAtMs + plan.windowMs)
  const outcome: ShutdownOutcome = { plan, startedAtMs, deadlineAtMs, deadlineEpochMs: clock.epochAt(deadlineAtMs), steps: [] }
  ports.timeline.phase(`Shutdown start (reason ${input.reason}, window ${plan.windowMs} ms, runtime share ${plan.runtimeShareMs} ms)`)
  const run: Run = { input, ports, outcome }
  await stopRuntime(run)
  if (input.flushTelemetryBeforeShutdown) {
    outcome.steps.push({ kind: 'flush', atMs: clock.now() })
    await ports.events.flush(Math.max(0, Math.min(MAX_FLUSH_MS, deadlineAtMs - clock.now())))
  }
  ports.events.shutdownStarts()
  const awaiting = releaseExtensions(run)
  await Promise.all(awaiting.map((process) => exitOrKill(run, process, deadlineAtMs - clock.now(), 'deadline', `deadline (${plan.windowMs} ms) reached`)))
  return outcome
}

/** SIGTERM and its share, or SIGKILL at once with no extension; then the runtime's exit. */
async function stopRuntime(run: Run): Promise<void> {
  const { plan, startedAtMs } = run.outcome
  const runtime = run.ports.processes.process('runtime')
  if (runtime === undefined || !runtime.alive) {
    return
  }
  if (plan.sigterm) {
    signal(run, runtime, 'SIGTERM', 'shutdown', 'shutdown')
    await exitOrKill(run, runtime, startedAtMs + plan.runtimeShareMs - run.ports.clock.now(), 'runtime-share-over', `runtime share of ${plan.runtimeShareMs} ms over`)
  } else {
    signal(run, runtime, 'SIGKILL', 'no-extensions', 'shutdown without extensions')
  }
  await runtime.waitExit(MAX_PROCESS_EXIT_WAIT_MS)
}

/** SHUTDOWN to each live external that subscribed to it and registered; SIGKILL to the others. */
function releaseExtensions(run: Run): ProcessPort[] {
  const { ports, outcome, input } = run
  const event = { eventType: 'SHUTDOWN' as const, shutdownReason: input.reason, deadlineMs: outcome.deadlineEpochMs }
  const awaiting: ProcessPort[] = []
  for (const name of input.externals) {
    const process = ports.processes.process(name)
    if (process === undefined || !process.alive) {
      continue
    }
    const agent = ports.extensions.external(name)
    if (agent !== undefined && agent.subscribed('SHUTDOWN') && agent.state !== 'Started') {
      outcome.steps.push({ kind: 'event', process: name, event: 'SHUTDOWN', atMs: ports.clock.now() })
      void agent.deliver(event)
      awaiting.push(process)
    } else {
      signal(run, process, 'SIGKILL', 'not-subscribed', 'not subscribed to SHUTDOWN')
    }
  }
  return awaiting
}

async function exitOrKill(run: Run, process: ProcessPort, waitMs: number, reason: SignalReason, why: string): Promise<void> {
  if (await process.waitExit(waitMs)) {
    run.outcome.steps.push({ kind: 'exited', process: process.name, atMs: run.ports.clock.now() })
  } else if (process.alive) {
    signal(run, process, 'SIGKILL', reason, why)
  }
}

function signal(run: Run, process: ProcessPort, signal: 'SIGTERM' | 'SIGKILL', reason: SignalReason, why: string): void {
  run.outcome.steps.push({ kind: 'signal', process: process.name, signal, reason, atMs: run.ports.clock.now() })
  if (signal === 'SIGTERM') {
    process.terminate(reason, why)
  } else {
    process.kill(reason, why)
  }
}
