// Invoke as RAPID's doInvoke (internal/lambda/rapid/start.go handleInvoke): release the extensions,
// then the runtime; wait for the runtime's answer, then for its next /next and every INVOKE
// subscriber's next /event/next, all within the function timeout.
import type { ShutdownReason } from '../../config/options.js'
import { Deadline, waitFor, type WaitOptions } from '../../wait/index.js'
import { CALLER_TIMEOUT_ERROR_TYPE, platformErrorBody, timeoutMessage } from '../error-types.js'
import { extensionInvokeEvent, type InvokeEvent } from '../events.js'
import type { ExtensionRegistry } from '../extensions.js'
import type { EventStatus, PlatformEvents, ReportMetrics, Tracing } from '../platform-events.js'
import { MAX_RESPONSE_BYTES, type RuntimeAgent, type RuntimeAnswer } from '../runtime.js'
import { INTERRUPTED, type Clock, type Fatal, type Timeline } from './ports.js'

const PLATFORM_ERROR = 'application/json'

/** What the caller gets and REPORT says; the RunRecord's InvocationRecord extends it. */
export interface InvokeResult {
  readonly requestId: string
  status: EventStatus
  /** The platform's error type (cleaned as RAPID does), as REPORT and telemetry show it. */
  errorType?: string
  /** The body the caller received. */
  response: string
  contentType: string
  /** Set when the caller would see X-Amz-Function-Error: Unhandled. */
  functionError?: 'Unhandled'
  durationMs: number
  startedAtMs: number
  /** The reset this invoke caused. */
  resetReason?: ShutdownReason
  /** The harness was interrupted (SIGINT, SIGTERM) while this invoke ran: it ended there, unanswered. */
  interrupted?: true
}

export interface InvokeOutcome<R extends InvokeResult> {
  readonly record: R
  /** The reset the invoke causes, if any. */
  readonly reset: ShutdownReason | undefined
}

/** Made once per generation: nothing of it is allocated per invoke. */
export interface InvokePorts {
  readonly clock: Clock
  readonly events: Pick<PlatformEvents, 'platform'>
  readonly extensions: ExtensionRegistry
  readonly runtime: RuntimeAgent
  readonly timeline: Timeline
  /** Settles with the first fatal error, or INTERRUPTED. */
  readonly ending: Promise<Fatal>
  readonly signal: AbortSignal
  readonly memorySizeMB: number
  /** The function timeout, for "Task timed out after N seconds". */
  readonly functionTimeoutMs: number
  /** The runtime's peak memory in MB (VmHWM), for REPORT. */
  peakMemoryMB(): number | undefined
}

interface Run<R extends InvokeResult> {
  readonly ports: InvokePorts
  readonly result: R
  readonly tracing: Tracing | undefined
  readonly wait: WaitOptions<Fatal> & { readonly deadline: Deadline }
  readonly initDurationMs: number | undefined
  runtimeStartedAtMs: number
  runtimeDone: boolean
  maxMemoryUsedMB: number | undefined
}

export async function runInvoke<R extends InvokeResult>(ports: InvokePorts, event: InvokeEvent, result: R, initDurationMs?: number): Promise<InvokeOutcome<R>> {
  const { clock, events } = ports
  // One timer for the invoke's three waits, which all end at its deadline.
  const deadline = new Deadline(clock.atEpoch(event.deadlineMs) - clock.now(), clock)
  const tracing: Tracing | undefined = event.traceId === undefined ? undefined : { type: 'X-Amzn-Trace-Id', value: event.traceId }
  const run: Run<R> = { ports, result, tracing, wait: { fatal: ports.ending, deadline, signal: ports.signal, timers: clock }, initDurationMs, runtimeStartedAtMs: clock.now(), runtimeDone: false, maxMemoryUsedMB: undefined }
  events.platform('platform.start', tracing === undefined ? { requestId: event.requestId, version: '$LATEST' } : { requestId: event.requestId, version: '$LATEST', tracing })
  // RAPID releases the extensions first, then the runtime; the INVOKE event is built only when an extension takes it.
  const subscribers = ports.extensions.registered.filter((agent) => agent.subscribed('INVOKE') && !agent.ended)
  const extensionEvent = subscribers.length === 0 ? undefined : extensionInvokeEvent(event)
  const extensionsDone = extensionEvent === undefined ? [] : subscribers.map((agent) => agent.deliver(extensionEvent))
  const { answer, nextCalled } = ports.runtime.deliver(event)

  const answered = await waitFor(answer, run.wait)
  if (answered.kind === 'fatal' && answered.fatal === INTERRUPTED) {
    // Unanswered: the caller got nothing. The final Shutdown still runs on this generation.
    result.status = 'failure'
    result.interrupted = true
    return finish(run, undefined)
  }
  if (answered.kind !== 'value') {
    failInvoke(result, answered.kind === 'fatal' ? answered.fatal : undefined, ports.functionTimeoutMs)
    return finish(run, answered.kind === 'fatal' ? answered.fatal.resetReason : 'timeout')
  }
  applyAnswer(result, answered.value)
  // The handler is done: its peak is read now, while the runtime reads our 202 and calls /next.
  run.maxMemoryUsedMB = ports.peakMemoryMB()
  const runtimeNext = await waitFor(nextCalled, run.wait)
  if (runtimeNext.kind === 'value') {
    emitRuntimeDone(run, answered.value.kind === 'tooLarge' ? answered.value.size : answered.value.payload.length)
  }
  // With no INVOKE subscriber there is nothing more to wait for.
  const done = runtimeNext.kind !== 'value' || extensionsDone.length === 0 ? runtimeNext : await waitFor(Promise.all(extensionsDone), run.wait)
  if (done.kind === 'fatal' && done.fatal === INTERRUPTED) {
    // Answered; what the runtime or the extensions did after it was cut short.
    result.interrupted = true
    return finish(run, undefined)
  }
  if (done.kind !== 'value') {
    // The caller has its response; the invoke still ends in a timeout or a failure (LAMBDA-SPEC §3.4).
    result.status = done.kind === 'deadline' ? 'timeout' : done.fatal.errorType.startsWith('Sandbox.') ? 'failure' : 'error'
    result.errorType = done.kind === 'deadline' ? CALLER_TIMEOUT_ERROR_TYPE : done.fatal.errorType
    return finish(run, done.kind === 'deadline' ? 'timeout' : done.fatal.resetReason)
  }
  return finish(run, undefined)
}

/** requestId, status, errorType, metrics, tracing: in wire order, no spread (bench/findings.md, #18). */
function outcomeRecord<M>(run: Run<InvokeResult>, metrics: M): { requestId: string; status: EventStatus; errorType?: string; metrics: M; tracing?: Tracing } {
  const { result, tracing } = run
  const fields: { requestId: string; status: EventStatus; errorType?: string; metrics?: M; tracing?: Tracing } = { requestId: result.requestId, status: result.status }
  if (result.errorType !== undefined) {
    fields.errorType = result.errorType
  }
  fields.metrics = metrics
  if (tracing !== undefined) {
    fields.tracing = tracing
  }
  return fields as { requestId: string; status: EventStatus; errorType?: string; metrics: M; tracing?: Tracing }
}

function emitRuntimeDone(run: Run<InvokeResult>, producedBytes: number): void {
  run.runtimeDone = true
  run.ports.events.platform('platform.runtimeDone', outcomeRecord(run, { durationMs: run.ports.clock.since(run.runtimeStartedAtMs), producedBytes }))
}

/** RUNTIME_DONE if not sent yet, REPORT, the END line. */
function finish<R extends InvokeResult>(run: Run<R>, reset: ShutdownReason | undefined): InvokeOutcome<R> {
  const { ports, result } = run
  run.wait.deadline.clear()
  result.durationMs = ports.clock.since(result.startedAtMs)
  if (!run.runtimeDone) {
    emitRuntimeDone(run, 0)
  }
  const initDurationMs = run.initDurationMs
  const billed = Math.ceil(result.durationMs) + (initDurationMs === undefined ? 0 : Math.ceil(initDurationMs))
  run.maxMemoryUsedMB ??= ports.peakMemoryMB()
  const metrics: { -readonly [K in keyof ReportMetrics]: ReportMetrics[K] } = {
    durationMs: result.durationMs,
    billedDurationMs: billed,
    memorySizeMB: ports.memorySizeMB,
    maxMemoryUsedMB: run.maxMemoryUsedMB ?? 0,
  }
  if (initDurationMs !== undefined) {
    metrics.initDurationMs = initDurationMs
  }
  ports.events.platform('platform.report', outcomeRecord(run, metrics))
  ports.timeline.phase(`END RequestId: ${result.requestId} (${result.status}${result.errorType === undefined ? '' : `, ${result.errorType}`})`)
  if (reset !== undefined) {
    result.resetReason = reset
  }
  return { record: result, reset }
}

function applyAnswer(result: InvokeResult, answer: RuntimeAnswer): void {
  if (answer.kind === 'response') {
    result.status = 'success'
    result.response = answer.payload.toString('utf8')
    result.contentType = answer.contentType
    return
  }
  result.status = 'error'
  result.functionError = 'Unhandled'
  if (answer.kind === 'error') {
    result.errorType = answer.errorType
    result.response = answer.payload.toString('utf8')
    result.contentType = answer.contentType
    return
  }
  result.errorType = 'Function.ResponseSizeTooLarge'
  result.contentType = PLATFORM_ERROR
  result.response = JSON.stringify({
    errorMessage: `Response payload size (${answer.size} bytes) exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`,
    errorType: 'Function.ResponseSizeTooLarge',
  })
}

/** No answer: a timeout (no fatal) or the fatal error's failure. */
function failInvoke(result: InvokeResult, fatal: Fatal | undefined, functionTimeoutMs: number): void {
  result.functionError = 'Unhandled'
  result.contentType = PLATFORM_ERROR
  if (fatal === undefined) {
    result.status = 'timeout'
    result.errorType = CALLER_TIMEOUT_ERROR_TYPE
    result.response = platformErrorBody(result.requestId, CALLER_TIMEOUT_ERROR_TYPE, timeoutMessage(functionTimeoutMs))
    return
  }
  result.status = fatal.errorType.startsWith('Sandbox.') ? 'failure' : 'error'
  result.errorType = fatal.errorType
  result.response = platformErrorBody(result.requestId, fatal.errorType, fatal.message)
}
