// The scenarios of `lambda-harness check`, in the order they are reported. Each runs in a sandbox
// of its own; `drive` is everything that happens after Init (the runner boots and disposes).
import { setTimeout as sleep } from 'node:timers/promises'
import type { ShutdownReason } from '../config/options.js'
import type { InvocationRecord } from '../record/run-record.js'
import { invokeRuntimeApiOnlyAsProxy } from './checks-runtime-api.js'
import {
  freezeKeepsUp,
  initErrorHandled,
  initNoErrorReported,
  initReachesNext,
  invokeKeepsUp,
  registersEvents,
  registersInitLimit,
  registersName,
} from './checks-lifecycle.js'
import { manyInvokesFds, manyInvokesMemory, manyInvokesThreads, samplePoints } from './checks-resources.js'
import { shutdownChecks } from './checks-shutdown.js'
import type { ScenarioContext, ScenarioName, ScenarioSpec } from './types.js'

/**
 * Work the built-in function does per invoke, so there is a function time to compare with. What
 * many-invokes checks grows per invoke, not per ms: 200 x 5 ms made it check's longest scenario.
 */
export const WORK_MS = 1
const WORK = { workMs: WORK_MS }
/** Invokes of the `invoke` scenario. */
const INVOKE_COUNT = 3
/** Function timeout of the timeout scenario, and how long its invoke sleeps. */
const SHORT_TIMEOUT_SEC = 1
const PAST_TIMEOUT_MS = 3000
/** How long the freeze scenario keeps the sandbox frozen between invokes. */
export const FROZEN_MS = 250
const FREEZE_INVOKES = 3

/** Invokes one after another, stopping at the first that does not succeed (it reset the sandbox). */
async function invokeUntilFailure(context: ScenarioContext, count: number, event: unknown, after?: (done: number) => Promise<void> | void): Promise<InvocationRecord[]> {
  const results: InvocationRecord[] = []
  if (context.sandbox.record.init?.status !== 'success') {
    return results
  }
  for (let i = 0; i < count && !context.signal.aborted; i++) {
    const result = await context.sandbox.invoke(event)
    results.push(result)
    if (result.status !== 'success') {
      break
    }
    await after?.(i + 1)
  }
  return results
}

async function shutdown(context: ScenarioContext, reason: ShutdownReason = 'spindown'): Promise<void> {
  context.observeBeforeShutdown()
  await context.sandbox.shutdown({ reason })
}

/** A failed Init means nothing to invoke; the sandbox has already been reset. */
function initSucceeded(context: ScenarioContext): boolean {
  return context.sandbox.record.init?.status === 'success'
}

function resetScenario(reason: 'timeout' | 'failure'): ScenarioSpec {
  return {
    name: reason === 'timeout' ? 'shutdown-timeout' : 'shutdown-failure',
    title:
      reason === 'timeout'
        ? `an invoke runs past a ${SHORT_TIMEOUT_SEC} s function timeout; the reset sends SHUTDOWN (timeout)`
        : 'the runtime process exits mid-invoke (Runtime.ExitError); the reset sends SHUTDOWN (failure)',
    function: 'builtin',
    ...(reason === 'timeout' ? { boot: { timeoutSec: SHORT_TIMEOUT_SEC }, waitsMs: () => SHORT_TIMEOUT_SEC * 1000 } : {}),
    async drive(context) {
      if (initSucceeded(context)) {
        // What it holds is read before the reset, while it is still running.
        context.observeBeforeShutdown()
        await context.sandbox.invoke(reason === 'timeout' ? { sleepMs: PAST_TIMEOUT_MS } : { crash: true })
      }
      await context.sandbox.shutdown({ reason: 'spindown' })
    },
    checks: shutdownChecks(reason),
  }
}

export const SCENARIOS: readonly ScenarioSpec[] = [
  {
    name: 'registers',
    title: 'Init with the function; the extension registers under its file name, for valid events, in time (ends without a Shutdown: the sandbox is disposed)',
    function: 'user',
    async drive() {
      // Registration is all this scenario watches: it ends without a Shutdown.
    },
    checks: [registersName, registersEvents, registersInitLimit],
  },
  {
    name: 'init',
    title: 'the function fails its Init (the runtime posts /runtime/init/error); the reset sends SHUTDOWN (failure)',
    function: 'builtin-fails-init',
    async drive(context) {
      await shutdown(context)
    },
    checks: [initReachesNext, initNoErrorReported, initErrorHandled],
  },
  {
    name: 'invoke',
    title: `${INVOKE_COUNT} invokes; the extension is ready again after each INVOKE (ends without a Shutdown)`,
    function: 'user',
    async drive(context) {
      await invokeUntilFailure(context, INVOKE_COUNT, WORK)
    },
    checks: [invokeKeepsUp, invokeRuntimeApiOnlyAsProxy],
  },
  {
    name: 'many-invokes',
    title: 'many invokes (200 by default); memory, open files and threads of the extension sampled from /proc (ends without a Shutdown)',
    function: 'user',
    waitsMs: (manyInvokes) => manyInvokes * WORK.workMs,
    async drive(context) {
      const points = samplePoints(context.manyInvokes)
      await invokeUntilFailure(context, context.manyInvokes, WORK, (done) => {
        if (points.has(done)) {
          context.sample(done)
        }
      })
    },
    checks: [manyInvokesMemory, manyInvokesFds, manyInvokesThreads],
  },
  {
    name: 'shutdown-spindown',
    title: 'one invoke, then the normal Shutdown: SHUTDOWN (spindown) after the runtime\'s SIGTERM share',
    function: 'user',
    async drive(context) {
      await invokeUntilFailure(context, 1, WORK)
      await shutdown(context)
    },
    checks: shutdownChecks('spindown'),
  },
  resetScenario('timeout'),
  resetScenario('failure'),
  {
    name: 'freeze',
    title: `${FREEZE_INVOKES} invokes with the sandbox frozen (SIGSTOP) ${FROZEN_MS} ms between them, as Lambda freezes it`,
    function: 'user',
    boot: { freeze: true },
    waitsMs: () => (FREEZE_INVOKES - 1) * FROZEN_MS + FREEZE_INVOKES * WORK.workMs,
    async drive(context) {
      await invokeUntilFailure(context, FREEZE_INVOKES, WORK, async (done) => {
        if (done < FREEZE_INVOKES) {
          await sleep(FROZEN_MS, undefined, { signal: context.signal })
        }
      })
      await shutdown(context)
    },
    checks: [freezeKeepsUp],
  },
]

/**
 * The order the runner starts `specs` in (indexes into it): the longest waits first, so the
 * longest scenario (the timeout scenario's 1 s) starts at once and the short ones fill the slots
 * beside it (longest processing time first); ties keep the report's order.
 */
export function startOrder(specs: readonly ScenarioSpec[], manyInvokes: number): number[] {
  const waits = specs.map((spec) => spec.waitsMs?.(manyInvokes) ?? 0)
  return specs.map((_spec, index) => index).sort((a, b) => waits[b]! - waits[a]! || a - b)
}

export function scenario(name: ScenarioName): ScenarioSpec {
  const found = SCENARIOS.find((s) => s.name === name)
  if (found === undefined) {
    throw new Error(`no scenario ${name}`)
  }
  return found
}
