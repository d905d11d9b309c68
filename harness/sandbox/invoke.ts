// One invoke: a suppressed Init first when a reset ended the last generation, then the event to
// the runtime; a failure resets the sandbox, as Lambda does.
import { randomFillSync, randomUUID } from 'node:crypto'
import { CALLER_TIMEOUT_ERROR_TYPE, platformErrorBody, timeoutMessage } from '../lifecycle/error-types.js'
import type { InvokeEvent } from '../lifecycle/events.js'
import { roundMs } from '../record/recorder.js'
import type { InitRecord, InvocationRecord } from '../record/run-record.js'
import type { SandboxContext } from './context.js'
import type { Fatal } from './generation.js'
import { describeFatal, reset, startGeneration } from './generations.js'

export interface InvokeOptions {
  /** Send these bytes as the event instead of JSON-encoding `event`. */
  readonly payload?: Buffer | string
  readonly contentType?: string
  /** JSON text for Lambda-Runtime-Client-Context. */
  readonly clientContext?: string
  readonly cognitoIdentity?: string
  readonly tenantId?: string
}

export async function invokeOnce(sandbox: SandboxContext, payload: Buffer, options: InvokeOptions): Promise<InvocationRecord> {
  const { recorder } = sandbox
  const requestId = randomUUID()
  const startedAtMs = recorder.now()
  const deadlineMs = Date.now() + sandbox.options.timeoutMs
  const record: InvocationRecord = { requestId, status: 'success', response: '', contentType: 'application/json', durationMs: 0, startedAtMs }
  recorder.invocation(record)
  recorder.add('phase', `START RequestId: ${requestId} Version: $LATEST`)
  if (!sandbox.live) {
    // A suppressed Init: the first invoke after a reset re-inits under the function timeout.
    const init = await startGeneration(sandbox, 'invoke', deadlineMs - Date.now())
    record.init = init
    if (init.status !== 'success') {
      return failedInit(sandbox, record, init)
    }
  }
  const event: InvokeEvent = {
    requestId,
    deadlineMs,
    invokedFunctionArn: sandbox.functionArn,
    traceId: traceId(),
    clientContext: options.clientContext,
    cognitoIdentity: options.cognitoIdentity,
    tenantId: options.tenantId,
    contentType: options.contentType ?? 'application/json',
    payload,
  }
  const generation = sandbox.current
  const outcome = await generation.invoke(event, record, sandbox.coldInitMs)
  sandbox.coldInitMs = undefined
  if (outcome.reset !== undefined) {
    await reset(sandbox, outcome.reset, describeFatal(generation.fatalError) ?? `invoke ${requestId} ended with ${record.errorType ?? record.status}`)
  } else if (sandbox.options.freeze) {
    generation.freeze()
  }
  return copyInvocation(record)
}

/** The invoke whose suppressed Init failed: it ends with the Init, with the Init's error. */
function failedInit(sandbox: SandboxContext, record: InvocationRecord, init: InitRecord): InvocationRecord {
  const { recorder, options } = sandbox
  const { requestId } = record
  const fatal = sandbox.current.fatalError
  record.functionError = 'Unhandled'
  if (init.status === 'timeout') {
    // The suppressed Init ran out the function timeout: the caller sees a function timeout.
    record.status = 'timeout'
    record.errorType = CALLER_TIMEOUT_ERROR_TYPE
    record.response = platformErrorBody(requestId, CALLER_TIMEOUT_ERROR_TYPE, timeoutMessage(options.timeoutMs))
  } else {
    record.status = 'error'
    record.errorType = init.errorType ?? 'Runtime.Unknown'
    record.response = initErrorBody(fatal, record.errorType, requestId)
  }
  // The invoke ends with the Init; the reset that follows is not part of its duration.
  record.durationMs = roundMs(init.startedAtMs + init.durationMs - record.startedAtMs)
  // Lambda still logs the invoke after the INIT_REPORTs: START, END, REPORT with the error (LAMBDA-SPEC §3.1).
  sandbox.telemetry.platform('platform.start', { requestId, version: '$LATEST' })
  sandbox.telemetry.platform('platform.report', {
    requestId,
    status: record.status,
    errorType: record.errorType,
    metrics: { durationMs: record.durationMs, billedDurationMs: Math.ceil(record.durationMs), memorySizeMB: options.memoryMB, maxMemoryUsedMB: 0 },
  })
  recorder.add('phase', `END RequestId: ${requestId} (${record.status}, ${record.errorType})`)
  return structuredClone(record)
}

// Trace ids come from a pool filled 256 at a time, as Node's randomUUID does (bench/findings.md).
const TRACE_RANDOM_BYTES = 20
const tracePool = Buffer.alloc(TRACE_RANDOM_BYTES * 256)
let tracePoolOffset = tracePool.length

function traceId(): string {
  const epoch = Math.floor(Date.now() / 1000).toString(16).padStart(8, '0')
  if (tracePoolOffset === tracePool.length) {
    randomFillSync(tracePool)
    tracePoolOffset = 0
  }
  const random = tracePool.toString('hex', tracePoolOffset, (tracePoolOffset += TRACE_RANDOM_BYTES))
  return `Root=1-${epoch}-${random.slice(0, 24)};Parent=${random.slice(24)};Sampled=0`
}

/** The caller's copy of an invocation record: every field but `init` is a primitive, so a spread copies it. */
function copyInvocation(record: InvocationRecord): InvocationRecord {
  return record.init === undefined ? { ...record } : structuredClone(record)
}

/** What the caller of the invoke that ran a failed suppressed Init receives. */
function initErrorBody(fatal: Fatal | undefined, errorType: string, requestId: string): string {
  if (fatal?.body !== undefined) {
    // The runtime's own /init/error body, passed through as posted.
    return fatal.body.toString('utf8')
  }
  return platformErrorBody(requestId, errorType, fatal?.message ?? 'Init failed')
}
