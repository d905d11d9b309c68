// Init and Invoke phases on fake processes and a fake clock: outcomes, platform events in order,
// the fatal errors they raise, and their deadlines.
import t from 'tap'
import type { InvokeEvent } from '../../../harness/lifecycle/events.js'
import { ExtensionAgent, ExtensionRegistry } from '../../../harness/lifecycle/extensions.js'
import { Registrations, runInit, type InitPorts } from '../../../harness/lifecycle/phases/init.js'
import { runInvoke, type InvokePorts, type InvokeResult } from '../../../harness/lifecycle/phases/invoke.js'
import { INTERRUPTED, type Fatal, type ProcessPort } from '../../../harness/lifecycle/phases/ports.js'
import type { PlatformEventType, PlatformRecords } from '../../../harness/lifecycle/platform-events.js'
import { RuntimeAgent } from '../../../harness/lifecycle/runtime.js'
import { deferred } from '../../../harness/wait/index.js'
import { FakeClock, FakeProcess } from './fakes.js'

/** Platform events as `type status errorType`, in order. */
function eventLog() {
  const log: string[] = []
  const records: Record<string, unknown>[] = []
  const events = {
    platform<K extends PlatformEventType>(type: K, record: PlatformRecords[K]) {
      const fields = record as { status?: string; errorType?: string }
      log.push([type, fields.status, fields.errorType].filter((part) => part !== undefined).join(' '))
      records.push(record)
    },
    initDone: () => log.push('initDone'),
  }
  return { log, records, events }
}

/** How each fake process behaves once started. */
type Behaviour = 'registers' | 'silent' | 'cannot start' | 'next' | 'init error'

function init(behaviours: Record<string, Behaviour>, timeoutMs = 1000) {
  const clock = new FakeClock()
  const externals = Object.keys(behaviours).filter((name) => name !== 'runtime')
  const extensions = new ExtensionRegistry(externals)
  const runtime = new RuntimeAgent()
  const registrations = new Registrations()
  const processes = new Map<string, ProcessPort>()
  const fatal = deferred<Fatal>()
  const fatals: string[] = []
  const { log, events } = eventLog()
  const start = async (name: string): Promise<ProcessPort | undefined> => {
    const behaviour = behaviours[name]
    if (behaviour === 'cannot start') {
      fatal.resolve({ errorType: 'Extension.LaunchError', message: 'NotFound', process: name, resetReason: 'failure' })
      return undefined
    }
    const process = new FakeProcess(name, clock)
    processes.set(name, process)
    if (behaviour === 'registers') {
      const agent = extensions.register({ name, body: Buffer.from('{"events":["INVOKE"]}'), acceptFeatures: undefined }) as ExtensionAgent
      registrations.registered(name)
      clock.setTimer(() => void agent.next(), 5)
    } else if (behaviour === 'next') {
      clock.setTimer(() => void runtime.next(), 10)
    } else if (behaviour === 'init error') {
      clock.setTimer(() => runtime.initError(Buffer.from('{}'), 'application/json', 'Runtime.ImportModuleError'), 10)
      process.react({ afterMs: 30, code: 1 })
    }
    return process
  }
  const ports: InitPorts = {
    clock,
    events,
    extensions,
    runtime,
    processes: { start, process: (name) => processes.get(name) },
    timeline: { phase: () => undefined },
    registrations,
    fatal: fatal.promise,
    raiseFatal: (f) => {
      fatals.push(f.errorType)
      fatal.resolve(f)
    },
    signal: new AbortController().signal,
  }
  const input = { phase: 'init' as const, timeoutMs, generation: 0, functionName: 'fn', externals }
  return clock.run(runInit(input, ports)).then((outcome) => ({ outcome, log, fatals, extensions, startedAt: clock.now() }))
}

t.test('Init: externals register, the runtime calls /next, every agent is ready', async (t) => {
  const { outcome, log } = await init({ a: 'registers', runtime: 'next' })
  t.match(outcome, { status: 'success', phase: 'init', durationMs: 10, extensions: [{ name: 'a', external: true, events: ['INVOKE'], state: 'Ready' }] })
  t.same(log, ['platform.initStart', 'platform.initRuntimeDone success', 'platform.extension', 'platform.initReport success', 'initDone'])
})

t.test('Init: an extension that cannot start ends Init with Extension.LaunchError; the runtime never starts', async (t) => {
  const { outcome, log, extensions } = await init({ a: 'cannot start', runtime: 'next' })
  t.match(outcome, { status: 'error', errorType: 'Extension.LaunchError' })
  t.equal(extensions.external('a')?.state, 'LaunchError')
  t.same(log, ['platform.initStart', 'platform.initRuntimeDone error Extension.LaunchError', 'platform.initReport error Extension.LaunchError'])
})

t.test('Init: /init/error is the fatal error; the runtime gets its chance to exit by itself', async (t) => {
  const { outcome, log, fatals } = await init({ runtime: 'init error' })
  t.match(outcome, { status: 'error', errorType: 'Runtime.ImportModuleError', durationMs: 30 })
  t.same(fatals, ['Runtime.ImportModuleError'])
  t.same(log, ['platform.initStart', 'platform.initRuntimeDone error Runtime.ImportModuleError', 'platform.initReport error Runtime.ImportModuleError'])
})

t.test('Init: an external that never registers times Init out at its limit', async (t) => {
  const { outcome, fatals } = await init({ a: 'silent', runtime: 'next' }, 1000)
  t.match(outcome, { status: 'timeout', errorType: 'Sandbox.Timeout', durationMs: 1000 })
  t.same(fatals, ['Sandbox.Timeout'])
})

const EPOCH_START = 1_700_000_001_000

function invokeEvent(timeoutMs: number, traceId?: string): InvokeEvent {
  return { requestId: 'req-1', deadlineMs: EPOCH_START + timeoutMs, invokedFunctionArn: 'arn', traceId, clientContext: undefined, cognitoIdentity: undefined, tenantId: undefined, contentType: 'application/json', payload: Buffer.from('{}') }
}

interface InvokeScenario {
  /** ms until the runtime responds; 'never' for a function that runs out its timeout. */
  readonly respondAfterMs: number | 'never'
  /** An INVOKE subscriber that calls /event/next this long after the event. */
  readonly extensionNextAfterMs?: number
  readonly interruptAfterMs?: number
  readonly traceId?: string
}

async function invoke(scenario: InvokeScenario) {
  const clock = new FakeClock()
  const runtime = new RuntimeAgent()
  const extensions = new ExtensionRegistry([])
  void runtime.next()
  if (scenario.extensionNextAfterMs !== undefined) {
    const agent = extensions.register({ name: 'int', body: Buffer.from('{"events":["INVOKE"]}'), acceptFeatures: undefined }) as ExtensionAgent
    void (agent.next() as Promise<unknown>).then(() => clock.setTimer(() => void agent.next(), scenario.extensionNextAfterMs ?? 0))
  }
  const ending = deferred<Fatal>()
  const { log, records, events } = eventLog()
  const ports: InvokePorts = { clock, events, extensions, runtime, timeline: { phase: () => undefined }, ending: ending.promise, signal: new AbortController().signal, memorySizeMB: 128, functionTimeoutMs: 3000, peakMemoryMB: () => 42 }
  if (scenario.respondAfterMs !== 'never') {
    clock.setTimer(() => {
      runtime.respond('req-1', { payload: Buffer.from('"ok"'), contentType: 'application/json' })
      clock.setTimer(() => void runtime.next(), 2)
    }, scenario.respondAfterMs)
  }
  if (scenario.interruptAfterMs !== undefined) {
    clock.setTimer(() => ending.resolve(INTERRUPTED), scenario.interruptAfterMs)
  }
  const result: InvokeResult = { requestId: 'req-1', status: 'success', response: '', contentType: '', durationMs: 0, startedAtMs: clock.now() }
  const outcome = await clock.run(runInvoke(ports, invokeEvent(3000, scenario.traceId), result))
  return { outcome, log, records }
}

t.test('Invoke: a response, then /next: START, RUNTIME_DONE, REPORT in wire order', async (t) => {
  const { outcome, log, records } = await invoke({ respondAfterMs: 25, traceId: 'Root=1' })
  t.match(outcome, { reset: undefined, record: { status: 'success', response: '"ok"', durationMs: 27 } })
  t.same(log, ['platform.start', 'platform.runtimeDone success', 'platform.report success'])
  t.same(Object.keys(records[1] ?? {}), ['requestId', 'status', 'metrics', 'tracing'])
  t.same(records[2], {
    requestId: 'req-1',
    status: 'success',
    metrics: { durationMs: 27, billedDurationMs: 27, memorySizeMB: 128, maxMemoryUsedMB: 42 },
    tracing: { type: 'X-Amzn-Trace-Id', value: 'Root=1' },
  })
})

t.test('Invoke: no answer by the deadline is a timeout and a reset', async (t) => {
  const { outcome, log } = await invoke({ respondAfterMs: 'never' })
  t.match(outcome, { reset: 'timeout', record: { status: 'timeout', errorType: 'Sandbox.Timedout', functionError: 'Unhandled', durationMs: 3000 } })
  t.same(log, ['platform.start', 'platform.runtimeDone timeout Sandbox.Timedout', 'platform.report timeout Sandbox.Timedout'])
})

t.test('Invoke: an INVOKE subscriber still busy at the deadline times the answered invoke out', async (t) => {
  const { outcome } = await invoke({ respondAfterMs: 10, extensionNextAfterMs: 5000 })
  t.match(outcome, { reset: 'timeout', record: { status: 'timeout', errorType: 'Sandbox.Timedout', response: '"ok"', durationMs: 3000 } })
  const quick = await invoke({ respondAfterMs: 10, extensionNextAfterMs: 100 })
  t.match(quick.outcome, { reset: undefined, record: { status: 'success', durationMs: 100 } })
})

t.test('Invoke: the harness interrupted mid-invoke: unanswered, no reset', async (t) => {
  const { outcome } = await invoke({ respondAfterMs: 'never', interruptAfterMs: 50 })
  t.match(outcome, { reset: undefined, record: { status: 'failure', interrupted: true, durationMs: 50 } })
})
