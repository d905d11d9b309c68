// Writes the RunRecord as a sandbox runs: one clock (ms since boot), the timeline, the faults; the
// verdict is computed from the rest when the record is read.
import { performance } from 'node:perf_hooks'
import type { PlatformFault, ProcessRecord, RunRecord, TimelineEntry } from './run-record.js'
import { roundMs } from './ms.js'
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

export class Recorder {
  readonly record: RunRecord
  readonly #origin = performance.now()
  readonly #epochOrigin = Date.now()
  readonly #outputKept = new Map<string, { lines: number; chars: number }>()
  readonly #onEntry: ((entry: TimelineEntry) => void) | undefined

  constructor(base: Pick<RunRecord, 'runtime' | 'function' | 'warnings'> & { version: string; onEntry?: (entry: TimelineEntry) => void }) {
    this.#onEntry = base.onEntry
    this.record = {
      harness: { name: 'lambda-harness', version: base.version },
      startedAt: new Date(this.#epochOrigin).toISOString(),
      runtime: base.runtime,
      function: base.function,
      init: null,
      invocations: [],
      resets: [],
      shutdown: null,
      processes: [],
      resources: {},
      verdict: { clean: true, problems: [] },
      warnings: [...base.warnings],
      timeline: [],
      logs: [],
      droppedOutputLines: 0,
      interrupted: false,
    }
  }

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
    const entry: TimelineEntry = process === undefined ? { atMs, kind, detail } : { atMs, kind, process, detail }
    this.record.timeline.push(entry)
    this.#onEntry?.({ ...entry })
  }

  output(process: string, stream: 'stdout' | 'stderr', line: string): void {
    const detail = stream === 'stderr' ? `[stderr] ${line}` : line
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
