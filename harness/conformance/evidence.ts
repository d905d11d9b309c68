// Facts about one extension, read off a RunRecord: its registration, its /event/next calls after
// each INVOKE, what happened to it in a Shutdown, and why it never got that far. The checks are
// phrased in these facts; nothing here decides pass or fail.
import type { ProcessRecord, RunRecord, ShutdownRecord, TimelineEntry } from '../record/run-record.js'

const REGISTER = /^POST \/2020-01-01\/extension\/register → (\d+)(?: (\S+))?/
const EVENT_NEXT = /^GET \/2020-01-01\/extension\/event\/next → /
const RUNTIME_NEXT = /^GET \/2018-06-01\/runtime\/invocation\/next → /
const RUNTIME_ANSWER = /^POST \/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error) → /
/** The runtime's receipt of an invoke (its /next answered). */
const RUNTIME_INVOKE = /^invoke (\S+)$/
/** A fatal error's entry: the error type and its words (the loader's, for a file that started but could not load). */
const LAUNCH_ERROR = /^fatal: (Extension\.LaunchError .*)$/s

export interface RegisterCall {
  readonly atMs: number
  /** The Lambda-Extension-Name it sent. */
  readonly name: string | undefined
  readonly status: number
  readonly errorType: string | undefined
}

/** Every /extension/register call, in time order. */
export function registerCalls(record: RunRecord): RegisterCall[] {
  return record.timeline.flatMap((entry) => {
    const match = entry.kind === 'api' ? REGISTER.exec(entry.detail) : null
    return match === null ? [] : [{ atMs: entry.atMs, name: entry.process, status: Number(match[1]), errorType: match[2] }]
  })
}

/** Why Lambda could not start the extension, in the words of its fatal error. */
export function launchError(record: RunRecord, extension: string): string | undefined {
  for (const entry of record.timeline) {
    const match = entry.kind === 'phase' && entry.process === extension ? LAUNCH_ERROR.exec(entry.detail) : null
    if (match !== null) {
      return match[1]
    }
  }
  return undefined
}

/** The extension's process of one generation (0: the first Init). */
export function processOf(record: RunRecord, extension: string, generation = 0): ProcessRecord | undefined {
  return record.processes.find((p) => p.kind === 'extension' && p.name === extension && p.generation === generation)
}

/**
 * Its /event/next calls (arrival times), answered or not. A call still waiting when the server
 * closed is recorded without a caller: it is counted for the extension when it is the only one.
 */
export function nextCalls(record: RunRecord, extension: string): TimelineEntry[] {
  const sole = new Set(record.processes.filter((p) => p.kind === 'extension').map((p) => p.name)).size === 1
  return record.timeline.filter(
    (e) => e.kind === 'api' && (e.process === extension || (sole && e.process === undefined)) && EVENT_NEXT.test(e.detail),
  )
}

/**
 * When it was ready again after an event delivered at `afterMs`: its next /event/next call, or,
 * if that call is not on record, the end of the invoke `requestId` when that invoke succeeded
 * (Lambda completes an invoke only once every INVOKE subscriber has called /event/next again).
 */
export function readyAgainAt(record: RunRecord, extension: string, afterMs: number, requestId?: string): number | undefined {
  const call = nextCalls(record, extension).find((e) => e.atMs >= afterMs)
  if (call !== undefined) {
    return call.atMs
  }
  const invocation = requestId === undefined ? undefined : record.invocations.find((i) => i.requestId === requestId)
  return invocation?.status === 'success' ? invocation.startedAtMs + invocation.durationMs : undefined
}

export function ms(value: number): string {
  return value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : value >= 100 ? `${Math.round(value)} ms` : `${value.toFixed(1)} ms`
}

export function median(values: readonly number[]): number {
  if (values.length === 0) {
    return 0
  }
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export function describeExit(exit: ProcessRecord['exit']): string {
  if (exit === null) {
    return 'still running'
  }
  return exit.signal !== null ? `killed by ${exit.signal}` : `exit code ${exit.code}`
}

/** One INVOKE the extension received and what it did next. */
export interface InvokeFollowUp {
  readonly requestId: string
  readonly index: number
  readonly deliveredAtMs: number
  /** When it called /event/next again; undefined if it never did. */
  readonly nextAtMs: number | undefined
  /** Its time after the runtime's own next /next (Lambda's PostRuntimeExtensionsDuration), ≥ 0. */
  readonly postInvokeMs: number | undefined
  /** The function's time: from the runtime receiving the invoke to its answer. */
  readonly functionMs: number | undefined
}

/** For each INVOKE delivered to the extension (generation 0), when it was ready again. */
export function invokeFollowUps(record: RunRecord, extension: string): InvokeFollowUp[] {
  const process = processOf(record, extension)
  if (process === undefined) {
    return []
  }
  const nexts = nextCalls(record, extension).map((e) => e.atMs)
  // Only the runtime calls the Runtime API (a call still waiting at close is recorded without a caller).
  const runtimeNexts = record.timeline
    .filter((e) => e.kind === 'api' && (e.process === 'runtime' || e.process === undefined) && RUNTIME_NEXT.test(e.detail))
    .map((e) => e.atMs)
  const answers = new Map<string, number>()
  const received = new Map<string, number>()
  for (const entry of record.timeline) {
    const answer = entry.kind === 'api' && entry.process === 'runtime' ? RUNTIME_ANSWER.exec(entry.detail) : null
    if (answer !== null && !answers.has(answer[1]!)) {
      answers.set(answer[1]!, entry.atMs)
    }
    const invoke = entry.kind === 'event' && entry.process === 'runtime' ? RUNTIME_INVOKE.exec(entry.detail) : null
    if (invoke !== null) {
      received.set(invoke[1]!, entry.atMs)
    }
  }
  return process.events
    .filter((event) => event.eventType === 'INVOKE')
    .map((event, index) => {
      const requestId = event.requestId ?? ''
      const nextAtMs = nexts.find((at) => at >= event.atMs) ?? readyAgainAt(record, extension, event.atMs, requestId)
      const answeredAtMs = answers.get(requestId)
      const runtimeNextAtMs = answeredAtMs === undefined ? undefined : runtimeNexts.find((at) => at >= answeredAtMs)
      const receivedAtMs = received.get(requestId)
      return {
        requestId,
        index,
        deliveredAtMs: event.atMs,
        nextAtMs,
        postInvokeMs: nextAtMs === undefined || runtimeNextAtMs === undefined ? undefined : Math.max(0, nextAtMs - runtimeNextAtMs),
        functionMs: answeredAtMs === undefined || receivedAtMs === undefined ? undefined : answeredAtMs - receivedAtMs,
      }
    })
}

/** Why the extension could not take part in a later phase, and which check reports it. */
export interface Block {
  readonly owner: string
  readonly reason: string
  readonly fix: string
}

export const FIX_NAME =
  'register with Lambda-Extension-Name set to the file name exactly (os.path.basename(sys.argv[0]) in Python, path.basename(process.argv[1]) in Node)'
export const FIX_INIT_ERROR =
  'fix what makes it fail during Init; call /extension/init/error only for a problem no retry can fix, and exit right after it'
export const FIX_KEEP_UP =
  'after each INVOKE, finish or hand off the work and call /event/next again at once; never exit or block on INVOKE (Lambda counts any exit outside Shutdown as Extension.Crash and resets the sandbox)'

/** Init did not complete because of this extension: which check says so. */
export function initBlock(record: RunRecord, extension: string): Block | undefined {
  const init = record.init
  if (init === null || init.status === 'success') {
    return undefined
  }
  const process = processOf(record, extension)
  const registered = registerCalls(record).some((call) => call.name === extension && call.status === 200)
  if (!registered) {
    return { owner: 'registers/name', reason: `Init failed (${init.errorType ?? init.status}): \`${extension}\` never registered under its name`, fix: FIX_NAME }
  }
  if (process?.reportedError !== undefined || (process?.exitedAtMs !== null && process?.exitedAtMs !== undefined && process.exitedAtMs < init.startedAtMs + init.durationMs + 1)) {
    const what = process?.reportedError ?? describeExit(process?.exit ?? null)
    return { owner: 'init/no-error-reported', reason: `Init failed (${init.errorType ?? init.status}): \`${extension}\` ended its Init with ${what}`, fix: FIX_INIT_ERROR }
  }
  if (init.status === 'timeout') {
    return { owner: 'registers/init-limit', reason: `Init timed out before \`${extension}\` was ready`, fix: 'call /event/next sooner: do slow setup after the first /event/next, or in the background' }
  }
  return { owner: 'init', reason: `Init failed (${init.errorType ?? init.status}) for a reason outside the extension`, fix: 'make the function\'s Init succeed (or run check without --function)' }
}

/** Why the extension was not running and waiting for events when `shutdown` began. */
export function shutdownBlock(record: RunRecord, extension: string, shutdown: ShutdownRecord): Block | undefined {
  const init = initBlock(record, extension)
  if (init !== undefined) {
    return init
  }
  const process = shutdown.extensions.find((p) => p.name === extension)
  if (process === undefined) {
    return { owner: 'invoke/keeps-up', reason: `\`${extension}\` was not running when this Shutdown began`, fix: FIX_KEEP_UP }
  }
  if (process.exitedAtMs !== null && process.exitedAtMs < shutdown.startedAtMs) {
    return {
      owner: 'invoke/keeps-up',
      reason: `\`${extension}\` had already exited (${describeExit(process.exit)}) ${ms(shutdown.startedAtMs - process.exitedAtMs)} before this Shutdown began`,
      fix: FIX_KEEP_UP,
    }
  }
  if (!(process.subscribed ?? []).includes('SHUTDOWN')) {
    return {
      owner: 'registers/events',
      reason: `\`${extension}\` does not subscribe to SHUTDOWN, so Lambda SIGKILLs it as soon as Shutdown begins`,
      fix: 'register for ["INVOKE", "SHUTDOWN"] (or ["SHUTDOWN"]) and clean up when SHUTDOWN arrives',
    }
  }
  const lastInvoke = process.events.filter((e) => e.eventType === 'INVOKE' && e.atMs < shutdown.startedAtMs).at(-1)
  // Busy with an INVOKE when Shutdown began is fine, as long as it calls /event/next in time to take SHUTDOWN.
  const gotShutdown = process.events.some((e) => e.eventType === 'SHUTDOWN' && e.atMs >= shutdown.startedAtMs)
  const readyAgain = lastInvoke === undefined ? undefined : readyAgainAt(record, extension, lastInvoke.atMs, lastInvoke.requestId)
  if (lastInvoke !== undefined && !gotShutdown && (readyAgain === undefined || readyAgain >= shutdown.deadlineAtMs)) {
    return {
      owner: 'invoke/keeps-up',
      reason: `\`${extension}\` never called /event/next after its last INVOKE, so it could not receive SHUTDOWN`,
      fix: FIX_KEEP_UP,
    }
  }
  return undefined
}

/** How the extension fared in one Shutdown (or reset). */
export interface ShutdownFacts {
  readonly process: ProcessRecord
  readonly shutdownAtMs: number | undefined
  readonly shutdownReason: string | undefined
  readonly killedAtDeadline: boolean
  /** From the SHUTDOWN event to its exit. */
  readonly tookMs: number | undefined
  /** From its exit to the deadline (negative: after it). */
  readonly marginMs: number | undefined
}

export function shutdownFacts(shutdown: ShutdownRecord, extension: string): ShutdownFacts | undefined {
  const process = shutdown.extensions.find((p) => p.name === extension)
  if (process === undefined) {
    return undefined
  }
  const event = process.events.find((e) => e.eventType === 'SHUTDOWN' && e.atMs >= shutdown.startedAtMs)
  const killedAtDeadline = process.signals.some((s) => s.signal === 'SIGKILL' && s.atMs >= shutdown.startedAtMs && s.reason === 'deadline')
  const exitedAtMs = process.exitedAtMs ?? undefined
  return {
    process,
    shutdownAtMs: event?.atMs,
    shutdownReason: event?.shutdownReason,
    killedAtDeadline,
    tookMs: event === undefined || exitedAtMs === undefined ? undefined : exitedAtMs - event.atMs,
    marginMs: exitedAtMs === undefined ? undefined : shutdown.deadlineAtMs - exitedAtMs,
  }
}

/** The Shutdown a shutdown scenario is about: the final one, or the reset with that reason. */
export function shutdownFor(record: RunRecord, reason: 'spindown' | 'timeout' | 'failure'): ShutdownRecord | undefined {
  if (reason === 'spindown') {
    return record.shutdown !== null && record.shutdown.windowMs > 0 ? record.shutdown : undefined
  }
  return record.resets.find((reset) => reset.reason === reason)
}
