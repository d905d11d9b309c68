// The lifecycle as Chrome trace-event JSON (the "JSON Object Format" of the Trace Event Format
// document, which Perfetto and chrome://tracing open): a view of RunRecords. Each record is a
// trace process; its tracks (threads) are the platform and each process by name. Init, each
// invoke and each Shutdown are spans on the platform track, a process's life and its Shutdown
// step (SIGTERM or SHUTDOWN until its exit) spans on its own; every timeline entry is an instant
// event with its text; the Shutdown deadline and each invoke's timeout are instants too.
import type { InitRecord, ProcessRecord, RunRecord, ShutdownRecord } from './run-record.js'

/** One event of the format: ph X (complete span), i (instant) or M (metadata). */
export interface TraceEvent {
  readonly name: string
  readonly ph: 'X' | 'i' | 'M'
  readonly pid: number
  readonly tid: number
  /** Microseconds. */
  readonly ts: number
  readonly dur?: number
  /** Scope of an instant: t(hread), p(rocess) or g(lobal). */
  readonly s?: 't' | 'p' | 'g'
  readonly cat?: string
  readonly args?: Record<string, unknown>
}

export interface TraceDocument {
  readonly traceEvents: TraceEvent[]
  readonly displayTimeUnit: 'ms'
  readonly otherData: Record<string, string>
}

export interface TraceSection {
  readonly title: string
  readonly record: RunRecord
}

const PLATFORM_TID = 0
const MAX_NAME_CHARS = 120

function us(ms: number): number {
  return Math.round(ms * 1000)
}

function clip(text: string): string {
  return text.length > MAX_NAME_CHARS ? `${text.slice(0, MAX_NAME_CHARS)}…` : text
}

/** The events of one record as trace process `pid`. */
function recordEvents(section: TraceSection, pid: number): TraceEvent[] {
  const { record } = section
  const names = [...new Set([...record.processes.map((p) => p.name), ...record.timeline.flatMap((e) => (e.process === undefined ? [] : [e.process]))])]
  const tid = (name: string | undefined) => (name === undefined || !names.includes(name) ? PLATFORM_TID : names.indexOf(name) + 1)
  const endMs = recordEndMs(record)
  const events: TraceEvent[] = [
    { name: 'process_name', ph: 'M', pid, tid: PLATFORM_TID, ts: 0, args: { name: section.title } },
    { name: 'thread_name', ph: 'M', pid, tid: PLATFORM_TID, ts: 0, args: { name: 'platform' } },
    ...names.map((name, index): TraceEvent => ({ name: 'thread_name', ph: 'M', pid, tid: index + 1, ts: 0, args: { name } })),
  ]
  const span = (name: string, track: number, startMs: number, durationMs: number, args: Record<string, unknown> = {}, cat = 'phase') =>
    // The end rounded, not the duration, so a span ending with its parent does not poke out of it.
    events.push({ name, cat, ph: 'X', pid, tid: track, ts: us(startMs), dur: Math.max(0, us(startMs + durationMs) - us(startMs)), args })
  const init = (record: InitRecord, label: string) =>
    span(`${label} (${record.status}${record.errorType === undefined ? '' : `, ${record.errorType}`})`, PLATFORM_TID, record.startedAtMs, record.durationMs)
  if (record.init !== null) {
    init(record.init, 'Init')
  }
  record.invocations.forEach((invocation, index) => {
    const args = { requestId: invocation.requestId, status: invocation.status, ...(invocation.errorType === undefined ? {} : { errorType: invocation.errorType }) }
    span(`Invoke ${index + 1} (${invocation.status})`, PLATFORM_TID, invocation.startedAtMs, invocation.durationMs, args)
    if (invocation.init !== undefined) {
      init(invocation.init, 'Init (suppressed)')
    }
    events.push({ name: 'Invoke deadline (function timeout)', cat: 'deadline', ph: 'i', s: 't', pid, tid: PLATFORM_TID, ts: us(invocation.startedAtMs + record.function.timeoutMs), args: { requestId: invocation.requestId } })
  })
  for (const shutdown of [...record.resets, ...(record.shutdown === null ? [] : [record.shutdown])]) {
    shutdownEvents(shutdown, pid, tid, span, events)
  }
  for (const process of record.processes) {
    const exitMs = process.exitedAtMs ?? endMs
    span(`${process.name} (${process.kind}, pid ${process.pid ?? '?'})`, tid(process.name), process.startedAtMs, exitMs - process.startedAtMs, { state: process.state, exit: process.exit, killed: process.killed }, 'process')
  }
  for (const entry of record.timeline) {
    events.push({ name: clip(`${entry.kind}: ${entry.detail}`), cat: entry.kind, ph: 'i', s: 't', pid, tid: tid(entry.process), ts: us(entry.atMs), args: { detail: entry.detail } })
  }
  return events
}

/** A Shutdown's span and deadline on the platform track, each process's step (signal or event until its exit) on its own. */
function shutdownEvents(
  shutdown: ShutdownRecord,
  pid: number,
  tid: (name: string | undefined) => number,
  span: (name: string, track: number, startMs: number, durationMs: number, args?: Record<string, unknown>, cat?: string) => void,
  events: TraceEvent[],
): void {
  span(`${shutdown.final ? 'Shutdown' : 'Reset'} (${shutdown.reason})`, PLATFORM_TID, shutdown.startedAtMs, shutdown.durationMs, { windowMs: shutdown.windowMs, runtimeShareMs: shutdown.runtimeShareMs })
  if (shutdown.windowMs > 0) {
    events.push({ name: 'Shutdown deadline', cat: 'deadline', ph: 'i', s: 'p', pid, tid: PLATFORM_TID, ts: us(shutdown.deadlineAtMs), args: { deadlineEpochMs: shutdown.deadlineEpochMs } })
  }
  for (const { process, startMs, exitMs, what } of shutdownSteps(shutdown)) {
    span(`${what} → exit`, tid(process.name), startMs, exitMs - startMs, { killed: process.killed }, 'shutdown')
  }
}

/** The last moment a record knows of: its last timeline entry or the end of its Shutdown. */
export function recordEndMs(record: RunRecord): number {
  return Math.max(0, ...record.timeline.map((e) => e.atMs), ...(record.shutdown === null ? [] : [record.shutdown.startedAtMs + record.shutdown.durationMs]))
}

/** Each process's Shutdown step that ended in its exit: the runtime's SIGTERM or an extension's SHUTDOWN. */
export function shutdownSteps(shutdown: ShutdownRecord): { process: ProcessRecord; startMs: number; exitMs: number; what: 'SIGTERM' | 'SHUTDOWN' }[] {
  const steps = [
    ...(shutdown.runtime === null ? [] : [{ process: shutdown.runtime, startMs: shutdown.runtime.signals.find((s) => s.atMs >= shutdown.startedAtMs)?.atMs, what: 'SIGTERM' as const }]),
    ...shutdown.extensions.map((process) => ({ process, startMs: process.events.find((e) => e.eventType === 'SHUTDOWN' && e.atMs >= shutdown.startedAtMs)?.atMs, what: 'SHUTDOWN' as const })),
  ]
  return steps.flatMap(({ process, startMs, what }) =>
    startMs === undefined || process.exitedAtMs === null || process.exitedAtMs < startMs ? [] : [{ process, startMs, exitMs: process.exitedAtMs, what }],
  )
}

export function traceDocument(sections: readonly TraceSection[]): TraceDocument {
  return {
    traceEvents: sections.flatMap((section, index) => recordEvents(section, index + 1)),
    displayTimeUnit: 'ms',
    otherData: { generator: 'lambda-harness', startedAt: sections[0]?.record.startedAt ?? '' },
  }
}

export function renderTrace(sections: readonly TraceSection[]): string {
  return `${JSON.stringify(traceDocument(sections))}\n`
}
