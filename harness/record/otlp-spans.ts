// The lifecycle as OpenTelemetry span descriptions: the view of RunRecords that harness/otlp.ts
// sends over OTLP. The same spans as the Chrome trace (trace.ts): a root span per record, Init,
// each invoke and each Shutdown under it, a process's life under it too, each process's Shutdown
// step (SIGTERM or SHUTDOWN until its exit) under its Shutdown; timeline entries become span
// events (on their process's life, else on the root). Times are epoch ms (the record's startedAt
// plus atMs). Attribute names follow OpenTelemetry's semantic conventions where one exists
// (faas.*, process.*), lambda_harness.* otherwise.
import type { InitRecord, ProcessRecord, ShutdownRecord } from './run-record.js'
import { recordEndMs, shutdownSteps, type TraceSection } from './trace.js'

export type SpanAttributes = Record<string, string | number | boolean | string[]>

export interface SpanEventDescription {
  readonly name: string
  readonly atEpochMs: number
  readonly attributes: SpanAttributes
}

export interface SpanDescription {
  readonly name: string
  readonly startEpochMs: number
  readonly endEpochMs: number
  readonly attributes: SpanAttributes
  /** Set when the phase failed (Init or an invoke not success, a killed process, an unclean verdict). */
  readonly error?: string
  readonly events: SpanEventDescription[]
  readonly children: SpanDescription[]
}

function defined(attributes: Record<string, string | number | boolean | string[] | null | undefined>): SpanAttributes {
  return Object.fromEntries(Object.entries(attributes).filter(([, value]) => value !== undefined && value !== null)) as SpanAttributes
}

function initSpan(init: InitRecord, name: string, at: (ms: number) => number): SpanDescription {
  return {
    name,
    startEpochMs: at(init.startedAtMs),
    endEpochMs: at(init.startedAtMs + init.durationMs),
    attributes: defined({ 'lambda_harness.status': init.status, 'lambda_harness.error_type': init.errorType, 'lambda_harness.extensions': init.extensions.map((e) => e.name) }),
    ...(init.status === 'success' ? {} : { error: init.errorType ?? init.status }),
    events: [],
    children: [],
  }
}

function processAttributes(process: ProcessRecord): SpanAttributes {
  return defined({
    'lambda_harness.process.name': process.name,
    'lambda_harness.process.kind': process.kind,
    'lambda_harness.process.generation': process.generation,
    'process.pid': process.pid,
    'lambda_harness.process.state': process.state,
    'process.exit.code': process.exit?.code,
    'lambda_harness.process.exit_signal': process.exit?.signal,
    'lambda_harness.process.killed': process.killed,
    'lambda_harness.process.signals': process.signals.map((s) => `${s.signal} (${s.why})`),
  })
}

/** A Shutdown (or reset) with each process's step under it, from its signal or event to its exit. */
function shutdownSpan(shutdown: ShutdownRecord, at: (ms: number) => number): SpanDescription {
  const children = shutdownSteps(shutdown).map(({ process, startMs, exitMs, what }): SpanDescription => ({
    name: `${process.name}: ${what} → exit`,
    startEpochMs: at(startMs),
    endEpochMs: at(exitMs),
    attributes: processAttributes(process),
    ...(process.killed ? { error: 'SIGKILLed' } : {}),
    events: [],
    children: [],
  }))
  return {
    name: shutdown.final ? 'Shutdown' : 'Reset',
    startEpochMs: at(shutdown.startedAtMs),
    endEpochMs: at(shutdown.startedAtMs + shutdown.durationMs),
    attributes: defined({
      'lambda_harness.shutdown.reason': shutdown.reason,
      'lambda_harness.shutdown.window_ms': shutdown.windowMs,
      'lambda_harness.shutdown.runtime_share_ms': shutdown.runtimeShareMs,
      'lambda_harness.shutdown.deadline_epoch_ms': shutdown.windowMs > 0 ? shutdown.deadlineEpochMs : undefined,
    }),
    events: [],
    children,
  }
}

/** One record as a tree of spans under a root named after the section. */
export function recordSpans(section: TraceSection): SpanDescription {
  const { record } = section
  const epoch = Date.parse(record.startedAt)
  const at = (ms: number) => epoch + ms
  const endMs = recordEndMs(record)
  const invokes = record.invocations.map((invocation, index): SpanDescription => ({
    name: 'Invoke',
    startEpochMs: at(invocation.startedAtMs),
    endEpochMs: at(invocation.startedAtMs + invocation.durationMs),
    attributes: defined({
      'faas.invocation_id': invocation.requestId,
      'lambda_harness.invoke.index': index + 1,
      'lambda_harness.status': invocation.status,
      'lambda_harness.error_type': invocation.errorType,
      'lambda_harness.invoke.deadline_epoch_ms': at(invocation.startedAtMs + record.function.timeoutMs),
    }),
    ...(invocation.status === 'success' ? {} : { error: invocation.errorType ?? invocation.status }),
    events: [],
    children: invocation.init === undefined ? [] : [initSpan(invocation.init, 'Init (suppressed)', at)],
  }))
  const processes = record.processes.map((process): SpanDescription => ({
    name: `process ${process.name}`,
    startEpochMs: at(process.startedAtMs),
    endEpochMs: at(process.exitedAtMs ?? endMs),
    attributes: processAttributes(process),
    ...(process.killed ? { error: 'SIGKILLed' } : {}),
    events: [],
    children: [],
  }))
  const rootEvents: SpanEventDescription[] = []
  for (const entry of record.timeline) {
    const event = { name: `${entry.kind}: ${entry.detail}`, atEpochMs: at(entry.atMs), attributes: defined({ 'lambda_harness.kind': entry.kind, 'lambda_harness.process.name': entry.process }) }
    // A name runs once per Init (generation): the entry belongs to the latest life started by then.
    const owner = processes.filter((span, index) => record.processes[index]?.name === entry.process && span.startEpochMs <= event.atEpochMs).at(-1)
    ;(owner?.events ?? rootEvents).push(event)
  }
  return {
    name: section.title,
    startEpochMs: epoch,
    endEpochMs: at(endMs),
    attributes: defined({
      'faas.name': record.function.name,
      'faas.max_memory': record.function.memoryMB * 1024 * 1024,
      'lambda_harness.function.dir': record.function.dir,
      'lambda_harness.function.handler': record.function.handler,
      'lambda_harness.runtime': record.runtime.profile,
      'lambda_harness.verdict.clean': record.verdict.clean,
      'lambda_harness.verdict.problems': record.verdict.problems.map((p) => p.code),
    }),
    ...(record.verdict.clean ? {} : { error: `not clean: ${record.verdict.problems.map((p) => p.code).join(', ')}` }),
    events: rootEvents,
    children: [
      ...(record.init === null ? [] : [initSpan(record.init, 'Init', at)]),
      ...invokes,
      ...[...record.resets, ...(record.shutdown === null ? [] : [record.shutdown])].map((shutdown) => shutdownSpan(shutdown, at)),
      ...processes,
    ],
  }
}
