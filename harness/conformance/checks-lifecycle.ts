// Checks on registration, Init, and keeping up with INVOKE (LAMBDA-SPEC §2.2, §2.3, §3.1, §3.2).
import type { ProcessRecord, RunRecord } from '../record/run-record.js'
import type { CheckSpec, ScenarioEvidence, Verdict } from './types.js'
import {
  FIX_INIT_ERROR,
  FIX_KEEP_UP,
  FIX_NAME,
  describeExit,
  initBlock,
  invokeFollowUps,
  launchError,
  median,
  ms,
  nextCalls,
  processOf,
  registerCalls,
  type InvokeFollowUp,
} from './evidence.js'

function blocked(owner: string, reason: string, fix: string): Verdict {
  return { outcome: 'fail', summary: reason, fix, blockedBy: owner }
}

export const registersName: CheckSpec = {
  name: 'name',
  expected: 'it calls /extension/register with Lambda-Extension-Name equal to its file name',
  evaluate(evidence, extension) {
    const { record } = evidence
    const calls = registerCalls(record)
    const process = processOf(record, extension)
    const own = calls.find((call) => call.name === extension)
    if (own !== undefined) {
      const after = process === undefined ? '' : ` ${ms(own.atMs - process.startedAtMs)} after it started`
      return { outcome: 'pass', summary: `registered as \`${extension}\`${after}`, data: { registeredAfterMs: process === undefined ? null : own.atMs - process.startedAtMs } }
    }
    if (process?.state === 'LaunchError') {
      const spawn = record.timeline.find((e) => e.kind === 'spawn' && e.process === extension)
      return {
        outcome: 'fail',
        summary: `Lambda could not start it (${launchError(record, extension) ?? spawn?.detail ?? 'LaunchError'})`,
        fix: 'make the file executable (chmod +x) with a #! line naming an interpreter the sandbox has (/usr/bin/python3, /usr/bin/env node), or ship a static binary',
      }
    }
    const known = new Set(Object.keys(evidence.extensions))
    const others = calls.filter((call) => call.name === undefined || !known.has(call.name))
    if (others.length > 0) {
      const other = others[0]!
      const outcome = `${other.status}${other.errorType === undefined ? '' : ` ${other.errorType}`}`
      return {
        outcome: 'fail',
        summary: `registered as \`${other.name ?? ''}\` (${outcome}), not as its file name \`${extension}\``,
        happened:
          `a /register call came as \`${other.name ?? '(no name)'}\` and was answered ${outcome}; \`${extension}\` itself never registered. ` +
          'Lambda tells external extensions by file name: any other name makes the caller an internal extension, which may not subscribe to SHUTDOWN, ' +
          `and Init waits for \`${extension}\` until it times out`,
        fix: FIX_NAME,
      }
    }
    const when = process?.exitedAtMs == null ? '' : `; it ended with ${describeExit(process.exit)} ${ms(process.exitedAtMs - process.startedAtMs)} after it started`
    return {
      outcome: 'fail',
      summary: `never called /extension/register${when}`,
      fix: 'call POST /2020-01-01/extension/register first thing, before any slow setup, and check it answered 200',
    }
  },
}

export const registersEvents: CheckSpec = {
  name: 'events',
  expected: 'it registers for SHUTDOWN (and INVOKE if it works per invoke), so Lambda tells it when the sandbox ends instead of SIGKILLing it',
  evaluate(evidence, extension) {
    const { record } = evidence
    const own = registerCalls(record).filter((call) => call.name === extension)
    if (own.length === 0) {
      return blocked('registers/name', `\`${extension}\` never registered under its name`, FIX_NAME)
    }
    const accepted = own.find((call) => call.status === 200)
    if (accepted === undefined) {
      const refused = own[0]!
      return {
        outcome: 'fail',
        summary: `its registration was refused: ${refused.status} ${refused.errorType ?? ''}`.trim(),
        fix: 'send a JSON body such as {"events": ["INVOKE", "SHUTDOWN"]}: a subset of INVOKE and SHUTDOWN, no configurationKeys, never an empty body',
      }
    }
    const events = processOf(record, extension)?.subscribed ?? []
    const list = `[${events.join(', ')}]`
    if (events.length === 0) {
      const waits = nextCalls(record, extension).length > 0
      return {
        outcome: 'fail',
        summary: `subscribes to no events${waits ? ', yet calls /event/next, which then blocks for ever' : ''}`,
        happened:
          'it registered for [] ' +
          (waits ? 'and then waits in /event/next, which never answers; ' : '') +
          'at Shutdown Lambda SIGKILLs it at once, with no chance to flush or close anything',
        fix: 'register for ["INVOKE", "SHUTDOWN"] (or ["SHUTDOWN"]) and do the work when those events arrive',
        data: { events: list },
      }
    }
    if (!events.includes('SHUTDOWN')) {
      return {
        outcome: 'fail',
        summary: `subscribes to ${list} but not SHUTDOWN: Lambda SIGKILLs it as soon as Shutdown begins`,
        fix: 'add SHUTDOWN to the events it registers for, and flush and exit 0 when it arrives',
        data: { events: list },
      }
    }
    return { outcome: 'pass', summary: list, data: { events: list } }
  },
}

export const registersInitLimit: CheckSpec = {
  name: 'init-limit',
  expected: 'it registers and calls /event/next well within Lambda\'s Init limit (10 s for on-demand functions)',
  evaluate(evidence, extension) {
    const { record } = evidence
    const process = processOf(record, extension)
    const registered = registerCalls(record).find((call) => call.name === extension && call.status === 200)
    if (process === undefined || registered === undefined || record.init === null) {
      return blocked('registers/name', `\`${extension}\` never registered under its name`, FIX_NAME)
    }
    const init = record.init
    const initEnd = init.startedAtMs + init.durationMs
    // Init succeeds only once every registered extension has called /event/next.
    const readyAtMs = nextCalls(record, extension).find((e) => e.atMs >= registered.atMs)?.atMs ?? (init.status === 'success' ? initEnd : undefined)
    const ready = readyAtMs === undefined ? undefined : { atMs: readyAtMs }
    const data = {
      registeredAfterMs: registered.atMs - process.startedAtMs,
      readyAfterMs: ready === undefined ? null : ready.atMs - process.startedAtMs,
      initMs: init.durationMs,
      initLimitMs: evidence.initTimeoutMs,
    }
    if (init.status === 'timeout' && (ready === undefined || ready.atMs > initEnd)) {
      return {
        outcome: 'fail',
        summary: `not ready within the ${ms(evidence.initTimeoutMs)} Init limit (registered after ${ms(data.registeredAfterMs)}, no /event/next in time)`,
        fix: 'call /event/next as soon as it has registered; do slow setup (connections, downloads) in the background or lazily on the first INVOKE',
        data,
      }
    }
    const readyText = ready === undefined ? 'never called /event/next' : `ready ${ms(ready.atMs - process.startedAtMs)} after it started`
    const initText = init.status === 'success' ? `Init took ${ms(init.durationMs)}` : `Init ended (${init.status}) after ${ms(init.durationMs)}`
    return { outcome: 'pass', summary: `${readyText}; ${initText} of the ${ms(evidence.initTimeoutMs)} limit`, data }
  },
}

// ---- init: the function's Init fails (the runtime posts /runtime/init/error) -----------------

export const initReachesNext: CheckSpec = {
  name: 'reaches-next',
  expected: 'after /register it calls /event/next (its first one marks it ready for Init), even while the function is failing its Init',
  evaluate(evidence, extension) {
    const { record } = evidence
    const process = processOf(record, extension)
    const registered = registerCalls(record).find((call) => call.name === extension && call.status === 200)
    if (process === undefined || registered === undefined) {
      return blocked('registers/name', `\`${extension}\` never registered under its name`, FIX_NAME)
    }
    const next = nextCalls(record, extension).find((e) => e.atMs >= registered.atMs)
    if (next === undefined) {
      if (process.reportedError !== undefined || process.exitedAtMs !== null) {
        return blocked('init/no-error-reported', `it ended (${process.reportedError ?? describeExit(process.exit)}) before calling /event/next`, FIX_INIT_ERROR)
      }
      return {
        outcome: 'fail',
        summary: 'never called /event/next after registering',
        fix: 'call /event/next right after /register: Lambda\'s Init waits for every registered extension\'s first /event/next',
      }
    }
    return { outcome: 'pass', summary: `first /event/next ${ms(next.atMs - registered.atMs)} after /register`, data: { afterRegisterMs: next.atMs - registered.atMs } }
  },
}

export const initNoErrorReported: CheckSpec = {
  name: 'no-error-reported',
  expected: 'it does not fail its own Init: no /extension/init/error, no exit before Shutdown; if it must report init/error, it exits right after',
  evaluate(evidence, extension) {
    const { record } = evidence
    const process = processOf(record, extension)
    const registered = registerCalls(record).some((call) => call.name === extension && call.status === 200)
    if (process === undefined || !registered) {
      return blocked('registers/name', `\`${extension}\` never registered under its name`, FIX_NAME)
    }
    const reset = record.resets[0]
    const exitedEarly = process.exitedAtMs !== null && (reset === undefined || process.exitedAtMs < reset.startedAtMs)
    if (process.reportedError !== undefined) {
      const then = process.killed
        ? 'and kept running until it was SIGKILLed: after init/error an extension must exit'
        : process.exit !== null
          ? `and then exited (${describeExit(process.exit)})`
          : 'and kept running'
      return {
        outcome: 'fail',
        summary: `reported ${process.reportedError} during Init ${then}`,
        happened: `it posted /extension/init/error (${process.reportedError}) ${then}; Lambda fails Init and retries it on the next invoke, so every cold start fails the same way`,
        fix: FIX_INIT_ERROR,
      }
    }
    if (exitedEarly) {
      return {
        outcome: 'fail',
        summary: `exited (${describeExit(process.exit)}) during Init, ${ms((process.exitedAtMs ?? 0) - process.startedAtMs)} after it started`,
        happened: 'Lambda counts an extension exiting outside Shutdown as a crash (Extension.Crash) and fails the Init',
        fix: FIX_INIT_ERROR,
      }
    }
    return { outcome: 'pass', summary: 'no init/error, no crash' }
  },
}

export const initErrorHandled: CheckSpec = {
  name: 'error-handled',
  expected: 'when the function fails its Init, it takes the SHUTDOWN (reason failure) that follows and exits 0 before the deadline',
  evaluate(evidence, extension) {
    const { record } = evidence
    const reset = record.resets.find((r) => r.reason === 'failure')
    const process = processOf(record, extension)
    const registered = registerCalls(record).some((call) => call.name === extension && call.status === 200)
    if (process === undefined || !registered) {
      return blocked('registers/name', `\`${extension}\` never registered under its name`, FIX_NAME)
    }
    if (process.reportedError !== undefined || (process.exitedAtMs !== null && (reset === undefined || process.exitedAtMs < reset.startedAtMs))) {
      return blocked('init/no-error-reported', `it ended its own Init (${process.reportedError ?? describeExit(process.exit)})`, FIX_INIT_ERROR)
    }
    if (reset === undefined) {
      return { outcome: 'fail', summary: 'the function\'s Init did not fail, so there was no failure Shutdown to watch', fix: 'report this as a lambda-harness bug' }
    }
    const me = reset.extensions.find((p) => p.name === extension) ?? process
    if (!(me.subscribed ?? []).includes('SHUTDOWN')) {
      return blocked('registers/events', 'it does not subscribe to SHUTDOWN', 'register for SHUTDOWN')
    }
    const event = me.events.find((e) => e.eventType === 'SHUTDOWN' && e.atMs >= reset.startedAtMs)
    const killed = me.signals.some((s) => s.signal === 'SIGKILL' && s.atMs >= reset.startedAtMs)
    const clean = !killed && me.exit !== null && me.exit.code === 0 && me.exit.signal === null
    if (event !== undefined && clean && me.exitedAtMs !== null) {
      return {
        outcome: 'pass',
        summary: `SHUTDOWN (failure), exited ${ms(me.exitedAtMs - event.atMs)} later, ${ms(reset.deadlineAtMs - me.exitedAtMs)} before the deadline`,
        data: { tookMs: me.exitedAtMs - event.atMs, marginMs: reset.deadlineAtMs - me.exitedAtMs },
      }
    }
    const what =
      event === undefined
        ? 'it never received SHUTDOWN (it was not waiting in /event/next)'
        : killed
          ? `it received SHUTDOWN (failure) but was still running at the deadline, ${ms(reset.windowMs)} after Shutdown began, and was SIGKILLed`
          : `it received SHUTDOWN (failure) and exited with ${describeExit(me.exit)}`
    return {
      outcome: 'fail',
      summary: what,
      fix: 'handle SHUTDOWN the same whatever its shutdownReason: flush, close, exit 0 before deadlineMs',
      blockedBy: 'shutdown-failure/exits-before-deadline',
    }
  },
}

// ---- invoke ---------------------------------------------------------------------------------

/** Whether it kept up with every INVOKE of this scenario's first generation. */
function keepsUp(evidence: ScenarioEvidence, extension: string): Verdict {
  const { record } = evidence
  const block = initBlock(record, extension)
  if (block !== undefined) {
    return blocked(block.owner, block.reason, block.fix)
  }
  const process = processOf(record, extension)
  if (process === undefined) {
    return blocked('registers/name', `\`${extension}\` was not started`, FIX_NAME)
  }
  const endAtMs = record.shutdown?.startedAtMs ?? evidence.endedAtMs
  const followUps = invokeFollowUps(record, extension)
  // An exit before the scenario ended that no reset explains (a reset's own SHUTDOWN ends it too).
  const firstReset = record.resets[0]
  const exitedAtMs = process.exitedAtMs
  const crashedAtMs =
    exitedAtMs !== null && exitedAtMs < endAtMs && (firstReset === undefined || exitedAtMs < firstReset.startedAtMs) ? exitedAtMs : undefined
  for (const followUp of followUps) {
    const failure = followUpFailure(record, process, followUp, endAtMs, crashedAtMs)
    if (failure !== undefined) {
      return failure
    }
  }
  if (crashedAtMs !== undefined) {
    return { outcome: 'fail', summary: `exited (${describeExit(process.exit)}) outside Shutdown`, fix: FIX_KEEP_UP }
  }
  if (!(process.subscribed ?? []).includes('INVOKE')) {
    return { outcome: 'skip', summary: 'not subscribed to INVOKE' }
  }
  const failed = record.invocations.find((i) => i.status !== 'success' && i.init === undefined)
  if (followUps.length === 0) {
    return { outcome: 'fail', summary: `received no INVOKE${failed === undefined ? '' : ` (invoke ${failed.requestId} ${failed.status})`}`, fix: 'report this as a lambda-harness bug' }
  }
  return keptUp(followUps)
}

/** Why it was not ready again in time after one INVOKE; undefined if it was. */
function followUpFailure(record: RunRecord, process: ProcessRecord, followUp: InvokeFollowUp, endAtMs: number, crashedAtMs: number | undefined): Verdict | undefined {
  const invocation = record.invocations.find((i) => i.requestId === followUp.requestId)
  const invokeEnd = invocation === undefined ? endAtMs : invocation.startedAtMs + invocation.durationMs
  if (followUp.nextAtMs !== undefined && followUp.nextAtMs <= invokeEnd + 1) {
    return undefined
  }
  const which = `INVOKE ${followUp.index + 1}`
  if (process.reportedError !== undefined) {
    return { outcome: 'fail', summary: `reported ${process.reportedError} after ${which}`, fix: FIX_KEEP_UP }
  }
  if (crashedAtMs !== undefined && crashedAtMs >= followUp.deliveredAtMs) {
    return {
      outcome: 'fail',
      summary: `exited (${describeExit(process.exit)}) ${ms(crashedAtMs - followUp.deliveredAtMs)} after ${which}, outside Shutdown`,
      happened: 'Lambda counts any exit outside Shutdown as a crash (Extension.Crash), even with code 0: the invoke fails and the sandbox is reset',
      fix: FIX_KEEP_UP,
    }
  }
  return {
    outcome: 'fail',
    summary: `did not call /event/next again after ${which} within the ${ms(record.function.timeoutMs)} function timeout`,
    happened: `the invoke ended ${invocation?.status ?? 'unfinished'}${invocation?.errorType === undefined ? '' : ` (${invocation.errorType})`}: the function timeout covers the extensions' time after the runtime's response, so the invoke timed out and the sandbox was reset`,
    fix: FIX_KEEP_UP,
  }
}

/** Ready again after every INVOKE: its post-invoke times against the function's. */
function keptUp(followUps: readonly InvokeFollowUp[]): Verdict {
  const post = followUps.flatMap((f) => (f.postInvokeMs === undefined ? [] : [f.postInvokeMs]))
  const fn = followUps.flatMap((f) => (f.functionMs === undefined ? [] : [f.functionMs]))
  const perInvoke = followUps.map((f) => `${f.index + 1}: ${f.postInvokeMs === undefined ? '?' : ms(f.postInvokeMs)} after, function ${f.functionMs === undefined ? '?' : ms(f.functionMs)}`)
  return {
    outcome: 'pass',
    summary: `ready again after all ${followUps.length} INVOKEs; post-invoke ${ms(median(post))} median, ${ms(Math.max(0, ...post))} max vs the function's ${ms(median(fn))} median`,
    happened: `per invoke (its time after the runtime's next /next; the function's time): ${perInvoke.join('; ')}`,
    data: {
      invokes: followUps.length,
      postInvokeMedianMs: median(post),
      postInvokeMaxMs: Math.max(0, ...post),
      functionMedianMs: median(fn),
      // From receiving INVOKE to calling /event/next again: its whole time per invoke.
      busyMedianMs: median(followUps.flatMap((f) => (f.nextAtMs === undefined ? [] : [f.nextAtMs - f.deliveredAtMs]))),
    },
  }
}

export const invokeKeepsUp: CheckSpec = {
  name: 'keeps-up',
  expected: 'after each INVOKE it calls /event/next again, within the function timeout, without exiting; its post-invoke time is reported against the function\'s',
  evaluate: keepsUp,
}

export const freezeKeepsUp: CheckSpec = {
  name: 'keeps-up',
  expected: 'frozen (SIGSTOP) between invokes and thawed (SIGCONT) for each, as Lambda freezes the sandbox, it still keeps up and stays running',
  evaluate(evidence, extension) {
    const verdict = keepsUp(evidence, extension)
    const freezes = evidence.record.processes
      .filter((p) => p.name === extension)
      .flatMap((p) => p.signals)
      .filter((s) => s.reason === 'freeze').length
    if (verdict.outcome === 'fail' && verdict.blockedBy === undefined) {
      // The same failure without freezing is reported by invoke/keeps-up.
      return { ...verdict, summary: freezes === 0 ? verdict.summary : `after ${freezes} freezes: ${verdict.summary}`, blockedBy: 'invoke/keeps-up' }
    }
    if (verdict.outcome === 'pass') {
      return { ...verdict, summary: `frozen and thawed ${freezes} times: ${verdict.summary}`, data: { ...verdict.data, freezes } }
    }
    return verdict
  },
}
