// Every row of LAMBDA-SPEC §3.3 against the Shutdown phase, with fake processes on a fake clock:
// the exact steps (signal, reason, time) and the extensions' end states.
import t from 'tap'
import type { ShutdownReason } from '../../../harness/config/options.js'
import type { ExtensionShutdownEvent } from '../../../harness/lifecycle/events.js'
import { ExtensionAgent, ExtensionRegistry } from '../../../harness/lifecycle/extensions.js'
import { extensionExited } from '../../../harness/lifecycle/phases/exits.js'
import { runShutdown, type ShutdownOutcome, type ShutdownStep } from '../../../harness/lifecycle/phases/shutdown.js'
import { FakeClock, FakeProcess, type Reaction } from './fakes.js'

const START_MS = 1000

interface External {
  readonly name: string
  readonly events?: readonly string[]
  /** false: the process runs but never called /register. */
  readonly registers?: boolean
  readonly onShutdown?: Reaction
}

interface Scenario {
  readonly reason?: ShutdownReason
  /** The runtime's answer to SIGTERM (never, by default). */
  readonly runtime?: Reaction
  readonly externals?: readonly External[]
  readonly internals?: readonly string[]
  readonly runtimeShutdownMs?: number
  /** Managed Instances' flush before SHUTDOWN, taking this long on the clock. */
  readonly flushMs?: number
}

interface Result {
  readonly outcome: ShutdownOutcome
  /** The steps, at ms from the start of Shutdown. */
  readonly steps: ShutdownStep[]
  readonly states: Record<string, string>
  readonly delivered: Record<string, ExtensionShutdownEvent>
  /** The telemetry port's calls, at ms from the start. */
  readonly telemetry: string[]
}

function registerExternal(registry: ExtensionRegistry, external: External, process: FakeProcess, delivered: Record<string, ExtensionShutdownEvent>): void {
  const agent = registry.register({ name: external.name, body: Buffer.from(JSON.stringify({ events: external.events ?? ['INVOKE', 'SHUTDOWN'] })), acceptFeatures: undefined })
  if (!(agent instanceof ExtensionAgent)) {
    throw new Error(`could not register ${external.name}`)
  }
  // Ready: waiting in /event/next, as an extension is between invokes.
  const next = agent.next()
  if (!(next instanceof Promise)) {
    throw new Error(`${external.name}: /event/next refused`)
  }
  void next.then((event) => {
    if (event.eventType === 'SHUTDOWN') {
      delivered[external.name] = event
      process.react(external.onShutdown ?? { afterMs: 'never' })
    }
  })
}

async function shutdown(scenario: Scenario): Promise<Result> {
  const clock = new FakeClock(START_MS)
  const externals = scenario.externals ?? []
  const registry = new ExtensionRegistry(externals.map((external) => external.name))
  const processes = new Map<string, FakeProcess>([['runtime', new FakeProcess('runtime', clock, scenario.runtime)]])
  const delivered: Record<string, ExtensionShutdownEvent> = {}
  for (const external of externals) {
    const process = new FakeProcess(external.name, clock)
    processes.set(external.name, process)
    // As the sandbox does on every exit: during Shutdown 0 is Exited, anything else ShutdownFailed.
    process.onExit = (exit) => extensionExited(registry.external(external.name), true, exit.code)
    if (external.registers !== false) {
      registerExternal(registry, external, process, delivered)
    }
  }
  for (const name of scenario.internals ?? []) {
    registry.register({ name, body: Buffer.from('{"events":["INVOKE"]}'), acceptFeatures: undefined })
  }
  const telemetry: string[] = []
  const events = {
    flush: (budgetMs: number) => {
      telemetry.push(`flush ${budgetMs} ms at ${clock.now() - START_MS}`)
      return new Promise<void>((resolve) => clock.setTimer(resolve, Math.min(budgetMs, scenario.flushMs ?? 0)))
    },
    shutdownStarts: () => telemetry.push(`shutdownStarts at ${clock.now() - START_MS}`),
  }
  const input = {
    reason: scenario.reason ?? 'spindown',
    externals: externals.map((external) => external.name),
    runtimeShutdownMs: scenario.runtimeShutdownMs,
    flushTelemetryBeforeShutdown: scenario.flushMs !== undefined,
  }
  const ports = { clock, events, extensions: registry, processes: { process: (name: string) => processes.get(name) }, timeline: { phase: () => undefined } }
  const outcome = await clock.run(runShutdown(input, ports))
  const states = Object.fromEntries(registry.externals.map((agent) => [agent.name, agent.state]))
  return { outcome, steps: outcome.steps.map((step) => ({ ...step, atMs: step.atMs - START_MS })), states, delivered, telemetry }
}

const sigterm = { kind: 'signal', process: 'runtime', signal: 'SIGTERM', reason: 'shutdown', atMs: 0 } as const
const exited = (process: string, atMs: number) => ({ kind: 'exited', process, atMs }) as const
const event = (process: string, atMs: number) => ({ kind: 'event', process, event: 'SHUTDOWN', atMs }) as const
const kill = (process: string, reason: string, atMs: number) => ({ kind: 'signal', process, signal: 'SIGKILL', reason, atMs })
const ext = (onShutdown: Reaction, more: Partial<External> = {}): External => ({ name: 'ext', onShutdown, ...more })

t.test('no extension at all: the runtime is SIGKILLed at once, never SIGTERMed; no window', async (t) => {
  const { steps, outcome } = await shutdown({ runtime: { afterMs: 10 } })
  t.same(steps, [kill('runtime', 'no-extensions', 0)])
  t.same(outcome.plan, { windowMs: 0, runtimeShareMs: 0, sigterm: false })
})

t.test('an internal extension only: SIGTERM, a 500 ms window, all of it the runtime share', async (t) => {
  const gone = await shutdown({ internals: ['int'], runtime: { afterMs: 120 } })
  t.same(gone.steps, [sigterm, exited('runtime', 120)])
  t.same(gone.outcome.plan, { windowMs: 500, runtimeShareMs: 500, sigterm: true })
  const ignores = await shutdown({ internals: ['int'] })
  t.same(ignores.steps, [sigterm, kill('runtime', 'runtime-share-over', 500)], 'a runtime that ignores SIGTERM is SIGKILLed at its share')
})

t.test('an external subscribed to SHUTDOWN gets it only once the runtime is gone, and exits', async (t) => {
  const { steps, states, delivered, outcome, telemetry } = await shutdown({ runtime: { afterMs: 20 }, externals: [ext({ afterMs: 50 })] })
  t.same(steps, [sigterm, exited('runtime', 20), event('ext', 20), exited('ext', 70)])
  t.same(states, { ext: 'Exited' })
  t.same(delivered.ext, { eventType: 'SHUTDOWN', shutdownReason: 'spindown', deadlineMs: outcome.deadlineEpochMs })
  t.equal(outcome.deadlineAtMs, START_MS + 2000)
  t.same(telemetry, ['shutdownStarts at 20'], 'classic order: no flush, SHUTDOWN goes out as soon as the runtime is gone')
})

t.test('externals not subscribed to SHUTDOWN, or never registered, are SIGKILLed at once', async (t) => {
  const { steps, states } = await shutdown({
    runtime: { afterMs: 20 },
    externals: [ext({ afterMs: 10 }, { name: 'a' }), ext({ afterMs: 10 }, { name: 'b', events: ['INVOKE'] }), ext({ afterMs: 10 }, { name: 'c', registers: false })],
  })
  t.same(steps, [sigterm, exited('runtime', 20), event('a', 20), kill('b', 'not-subscribed', 20), kill('c', 'not-subscribed', 20), exited('a', 30)], 'in file-name order')
  t.same(states, { a: 'Exited', b: 'ShutdownFailed', c: 'ShutdownFailed' })
})

t.test('a runtime that ignores SIGTERM is SIGKILLed at its share; SHUTDOWN follows', async (t) => {
  const { steps } = await shutdown({ externals: [ext({ afterMs: 50 })] })
  t.same(steps, [sigterm, kill('runtime', 'runtime-share-over', 300), event('ext', 300), exited('ext', 350)])
})

t.test('an extension that exits at once, at the deadline, never, or with exit 1', async (t) => {
  const early = await shutdown({ runtime: { afterMs: 20 }, externals: [ext({ afterMs: 0 })] })
  t.same(early.steps, [sigterm, exited('runtime', 20), event('ext', 20), exited('ext', 20)])
  t.same(early.states, { ext: 'Exited' })
  const late = await shutdown({ runtime: { afterMs: 20 }, externals: [ext({ afterMs: 1980 })] })
  t.same(late.steps, [sigterm, exited('runtime', 20), event('ext', 20), kill('ext', 'deadline', 2000)], 'exiting at the deadline is too late')
  t.same(late.states, { ext: 'ShutdownFailed' })
  const never = await shutdown({ runtime: { afterMs: 20 }, externals: [ext({ afterMs: 'never' })] })
  t.same(never.steps, [sigterm, exited('runtime', 20), event('ext', 20), kill('ext', 'deadline', 2000)])
  const failed = await shutdown({ runtime: { afterMs: 20 }, externals: [ext({ afterMs: 30, code: 1 })] })
  t.same(failed.steps, [sigterm, exited('runtime', 20), event('ext', 20), exited('ext', 50)])
  t.same(failed.states, { ext: 'ShutdownFailed' }, 'an exit other than 0 during Shutdown')
})

t.test('each reason goes out in SHUTDOWN, with the same steps', async (t) => {
  for (const reason of ['spindown', 'timeout', 'failure'] as const) {
    const { steps, delivered } = await shutdown({ reason, runtime: { afterMs: 20 }, externals: [ext({ afterMs: 5 })] })
    t.same(steps, [sigterm, exited('runtime', 20), event('ext', 20), exited('ext', 25)], reason)
    t.equal(delivered.ext?.shutdownReason, reason)
  }
})

t.test('runtimeShutdownMs sets the runtime share, within the window', async (t) => {
  const longer = await shutdown({ runtimeShutdownMs: 1000, externals: [ext({ afterMs: 50 })] })
  t.same(longer.steps, [sigterm, kill('runtime', 'runtime-share-over', 1000), event('ext', 1000), exited('ext', 1050)])
  t.equal(longer.outcome.plan.runtimeShareMs, 1000)
  const capped = await shutdown({ runtimeShutdownMs: 5000, externals: [ext({ afterMs: 50 })] })
  t.same(capped.steps, [sigterm, kill('runtime', 'runtime-share-over', 2000), event('ext', 2000), kill('ext', 'deadline', 2000)], 'nothing is left for the extension')
})

t.test('Managed Instances flush telemetry between the runtime exit and SHUTDOWN, 1 s at most', async (t) => {
  const flushed = await shutdown({ runtime: { afterMs: 20 }, externals: [ext({ afterMs: 50 })], flushMs: 40 })
  t.same(flushed.steps, [sigterm, exited('runtime', 20), { kind: 'flush', atMs: 20 }, event('ext', 60), exited('ext', 110)])
  t.same(flushed.telemetry, ['flush 1000 ms at 20', 'shutdownStarts at 60'])
  const short = await shutdown({ runtimeShutdownMs: 1500, externals: [ext({ afterMs: 50 })], flushMs: 5000 })
  t.same(short.steps, [sigterm, kill('runtime', 'runtime-share-over', 1500), { kind: 'flush', atMs: 1500 }, event('ext', 2000), kill('ext', 'deadline', 2000)])
  t.same(short.telemetry, ['flush 500 ms at 1500', 'shutdownStarts at 2000'], 'the budget ends at the deadline')
})
