// Writes the RunRecord as a sandbox runs: one clock (ms since boot), the timeline, the faults; the
// verdict is computed from the rest when the record is read.
import { performance } from 'node:perf_hooks'
import type { InvocationRecord, PlatformFault, ProcessRecord, RecordSummary, RunRecord, TimelineEntry } from './run-record.js'
import { roundMs } from './ms.js'
import { InvocationStore, LogStore, TimelineStore } from './stores.js'
import { datedProblems } from './verdict.js'

export { roundMs }

/**
 * Output kept in the timeline per process name (a restarted process shares its predecessors'):
 * past either cap its lines are counted in `droppedOutputLines`, not kept. Per process, so one
 * that floods cannot crowd out the others' later lines; a sandbox has at most 11 names (the
 * runtime and 10 extensions), so the timeline's output stays under 11 × 4 MiB characters.
 */
export const MAX_TIMELINE_OUTPUT_LINES = 20_000
export const MAX_TIMELINE_OUTPUT_CHARS = 4 * 1024 * 1024

/** `record: 'summary'`: the first and the last this many invocations are kept in full. */
export const SUMMARY_KEPT_INVOCATIONS = 100

export class Recorder {
  readonly record: RunRecord
  readonly #origin = performance.now()
  readonly #epochOrigin = Date.now()
  #outputKept: Map<string, { lines: number; chars: number }> | undefined
  readonly #onEntry: ((entry: TimelineEntry) => void) | undefined
  readonly #invocations: InvocationStore
  readonly #timeline: TimelineStore
  readonly #logs: LogStore
  #droppedEvents = 0

  constructor(
    base: Pick<RunRecord, 'runtime' | 'function' | 'warnings'> & { version: string; onEntry?: (entry: TimelineEntry) => void; mode?: 'full' | 'summary' },
  ) {
    this.#onEntry = base.onEntry
    this.#invocations = new InvocationStore(base.mode === 'summary' ? SUMMARY_KEPT_INVOCATIONS : undefined)
    this.#timeline = new TimelineStore(this.#invocations)
    this.#logs = new LogStore(this.#invocations)
    // The growing parts are stored compactly and rendered on read, in the same place of the JSON,
    // by getters every record shares: per-record closures would put each record in dictionary mode.
    const record: Record<string, unknown> = {
      harness: { name: 'lambda-harness', version: base.version },
      startedAt: new Date(this.#epochOrigin).toISOString(),
      runtime: base.runtime,
      function: base.function,
      init: null,
    }
    Object.defineProperty(record, 'invocations', Recorder.#views.invocations)
    record.resets = []
    record.shutdown = null
    record.processes = []
    record.resources = {}
    record.verdict = { clean: true, problems: [] }
    record.warnings = [...base.warnings]
    Object.defineProperty(record, 'timeline', Recorder.#views.timeline)
    Object.defineProperty(record, 'logs', Recorder.#views.logs)
    record.droppedOutputLines = 0
    record.interrupted = false
    if (base.mode === 'summary') {
      Object.defineProperty(record, 'summary', Recorder.#views.summary)
    }
    this.record = record as unknown as RunRecord
    Recorder.#owners.set(this.record, this)
  }

  static readonly #owners = new WeakMap<RunRecord, Recorder>()
  static #of(record: RunRecord): Recorder {
    return Recorder.#owners.get(record)!
  }
  static readonly #views = {
    invocations: { enumerable: true, configurable: true, get: function (this: RunRecord) { return Recorder.#of(this).#invocations.values() } },
    timeline: { enumerable: true, configurable: true, get: function (this: RunRecord) { return Recorder.#of(this).#timeline.entries() } },
    logs: { enumerable: true, configurable: true, get: function (this: RunRecord) { return Recorder.#of(this).#logs.lines() } },
    summary: { enumerable: true, configurable: true, get: function (this: RunRecord) { return Recorder.#of(this).#summary() } },
  } satisfies Record<string, PropertyDescriptor>

  /** ms since boot, with microsecond precision as RAPID's durations. */
  now(): number {
    return roundMs(performance.now() - this.#origin)
  }

  /** ms from `startedAtMs` (a time on this clock) to now: a difference of rounded times is not rounded. */
  since(startedAtMs: number): number {
    return roundMs(this.now() - startedAtMs)
  }

  /** Epoch ms for a point on the sandbox clock (deadlines on the wire are epoch ms). */
  epochAt(atMs: number): number {
    return Math.round(this.#epochOrigin + atMs)
  }

  /** The sandbox-clock time of an epoch ms. */
  atEpoch(epochMs: number): number {
    return epochMs - this.#epochOrigin
  }

  add(kind: TimelineEntry['kind'], detail: string, process?: string, atMs = this.now()): void {
    this.#timeline.add(atMs, kind, process, detail)
    this.#onEntry?.(process === undefined ? { atMs, kind, detail } : { atMs, kind, process, detail })
  }

  /** An invoke started: its record is kept (and may change) until the next one starts. */
  invocation(record: InvocationRecord): void {
    this.#invocations.push(record)
    this.#timeline.settle()
    this.#logs.settle()
    const keep = this.#invocations.keep
    if (keep !== undefined && this.#invocations.count % keep === 0) {
      this.#trimEvents(keep)
    }
  }

  /** The platform's log lines (START, END, REPORT, …). */
  log(lines: readonly string[]): void {
    for (const line of lines) {
      this.#logs.add(line)
    }
  }

  output(process: string, stream: 'stdout' | 'stderr', line: string): void {
    const detail = stream === 'stderr' ? `[stderr] ${line}` : line
    this.#outputKept ??= new Map()
    let kept = this.#outputKept.get(process)
    if (kept === undefined) {
      kept = { lines: 0, chars: 0 }
      this.#outputKept.set(process, kept)
    }
    if (kept.lines >= MAX_TIMELINE_OUTPUT_LINES || kept.chars + detail.length > MAX_TIMELINE_OUTPUT_CHARS) {
      this.record.droppedOutputLines++
      return
    }
    kept.lines++
    kept.chars += detail.length
    this.add('output', detail, process)
  }

  /** A fault of the harness or the platform, now: the verdict reports it. */
  fault(fault: Omit<PlatformFault, 'atMs'>): void {
    ;(this.record.platformFaults ??= []).push({ atMs: this.now(), ...fault })
  }

  warn(message: string): void {
    this.record.warnings.push(message)
  }

  process(entry: ProcessRecord): ProcessRecord {
    this.record.processes.push(entry)
    return entry
  }

  /** Summary mode: each process's INVOKE events past the first and the last `keep` are left out, as their invokes are. */
  #trimEvents(keep: number): void {
    for (const process of this.record.processes) {
      if (process.events.length > 3 * keep) {
        const middle = process.events.slice(keep, -keep)
        const kept = middle.filter((event) => event.eventType !== 'INVOKE')
        this.#droppedEvents += middle.length - kept.length
        process.events = [...process.events.slice(0, keep), ...kept, ...process.events.slice(-keep)]
      }
    }
  }

  #summary(): RecordSummary {
    return {
      keptInvocations: this.#invocations.keep ?? 0,
      invocations: this.#invocations.count,
      timelineEntries: this.#timeline.count,
      logLines: this.#logs.count,
      dropped: {
        invocations: this.#invocations.dropped,
        timelineEntries: this.#timeline.dropped,
        logLines: this.#logs.dropped,
        processEvents: this.#droppedEvents,
      },
    }
  }

  /** A copy a caller can keep and serialise, with its verdict, each problem in the timeline, in time order. */
  snapshot(): RunRecord {
    const copy = structuredClone(this.record)
    const problems = datedProblems(copy)
    copy.verdict = { clean: problems.length === 0, problems: problems.map((dated) => dated.problem) }
    for (const { atMs, problem } of problems) {
      copy.timeline.push(problem.process === undefined ? { atMs, kind: 'problem', detail: problem.message } : { atMs, kind: 'problem', process: problem.process, detail: problem.message })
    }
    copy.timeline.sort((a, b) => a.atMs - b.atMs)
    return copy
  }
}
