// The vocabulary of `lambda-harness check`: scenarios, the checks they carry, and what a check
// concluded. Checks are views of RunRecords (plus a few /proc samples and what the sink received),
// so every result can be traced back to the timeline it came from.
import type { BootOptions } from '../config/options.js'
import type { RunRecord } from '../record/run-record.js'
import type { Sandbox } from '../sandbox/sandbox.js'

export const SCENARIO_NAMES = [
  'registers',
  'init',
  'invoke',
  'many-invokes',
  'shutdown-spindown',
  'shutdown-timeout',
  'shutdown-failure',
  'freeze',
] as const
export type ScenarioName = (typeof SCENARIO_NAMES)[number]

export type CheckOutcome = 'pass' | 'fail' | 'skip'

/** What one check concluded about one extension. */
export interface CheckResult {
  /** `<scenario>/<check>`, e.g. `shutdown-spindown/exits-before-deadline`. */
  readonly id: string
  readonly scenario: ScenarioName
  readonly check: string
  /** The extension (its file name) the check is about. */
  readonly extension: string
  outcome: CheckOutcome
  /** One line with the key number: what the text reporter prints after ✓ or ✗. */
  summary: string
  /** What a conforming extension does. */
  readonly expected: string
  /** What this one did, in detail (the evidence). */
  happened: string
  /** How to fix it; empty when it passed. */
  fix: string
  /**
   * Set when this result follows from another check's failure (a crash on INVOKE means no SHUTDOWN
   * either): the result is reported once, there, and is a skip here. If that check did not fail
   * (or did not run), the failure stands here.
   */
  blockedBy?: string
  /** The key numbers as data (ms, counts, MB) for JSON consumers. */
  readonly data: Record<string, number | string | boolean | null>
}

/** A check's conclusion before the suite resolves `blockedBy`. */
export type Verdict =
  | { readonly outcome: 'pass'; readonly summary: string; readonly happened?: string; readonly data?: CheckResult['data'] }
  | {
      readonly outcome: 'fail'
      readonly summary: string
      readonly happened?: string
      readonly fix: string
      readonly blockedBy?: string
      readonly data?: CheckResult['data']
    }
  | { readonly outcome: 'skip'; readonly summary: string; readonly data?: CheckResult['data'] }

/** /proc figures for one extension's process tree at one point of a scenario. */
export interface ResourceSample {
  /** Invokes completed when the sample was taken. */
  readonly afterInvokes: number
  readonly atMs: number
  /** Resident memory of the process and its descendants, kB (VmRSS). */
  readonly rssKB: number
  readonly fds: number
  readonly threads: number
}

/** What a scenario saw of one extension besides the RunRecord. */
export interface ExtensionObservations {
  samples: ResourceSample[]
  /** SigCgt bit 15, read just before Shutdown (undefined when it was not running or /proc is unreadable). */
  sigtermHandler: boolean | undefined
  /** `pid: command line` of its process tree just before Shutdown, to name orphans. */
  commands: Record<number, string>
}

/** Everything a scenario left for its checks to look at. */
export interface ScenarioEvidence {
  readonly scenario: ScenarioName
  readonly record: RunRecord
  readonly extensions: Readonly<Record<string, ExtensionObservations>>
  /** What reached SINK_URL during this scenario: request count and the bodies (decoded). */
  readonly sink: { readonly requests: number; readonly bodies: readonly string[] }
  /** The built-in function ran (its invokes print a marker line with their request id). */
  readonly builtinFunction: boolean
  /** The Init limit the sandbox ran with. */
  readonly initTimeoutMs: number
  /** When the scenario stopped driving (sandbox clock): later exits are the SIGKILLs of dispose(). */
  readonly endedAtMs: number
  readonly durationMs: number
}

/** Facts that only the whole run knows. */
export interface SuiteFacts {
  /** Requests SINK_URL received over every scenario: 0 means the extension ships elsewhere (or nowhere). */
  readonly sinkRequests: number
  readonly manyInvokes: number
  readonly tolerance: LeakTolerance
  /** The function's AWS_LAMBDA_EXEC_WRAPPER (--env), which makes a Runtime API proxy legitimate. */
  readonly execWrapper?: string
}

export interface LeakTolerance {
  /** Growth in resident memory allowed over the many-invokes scenario. Default 10 MB... */
  readonly memoryMB: number
  /**
   * ...or this share of the memory after the warm-up, whichever is larger. Default 50 %: garbage
   * collectors grow their heaps lazily (Node's does by tens of KB per invoke for hundreds of
   * invokes), while a leak of what each invoke brings grows without bound.
   */
  readonly memoryPercent: number
  /** Growth in open file descriptors. Default 4. */
  readonly fds: number
  /** Growth in threads. Default 2. */
  readonly threads: number
}

export interface CheckSpec {
  /** Its name within the scenario, e.g. `exits-before-deadline`. */
  readonly name: string
  /** What a conforming extension does: printed in the report and the README. */
  readonly expected: string
  evaluate(evidence: ScenarioEvidence, extension: string, suite: SuiteFacts): Verdict
}

export interface ScenarioContext {
  readonly sandbox: Sandbox
  readonly extensions: readonly string[]
  /** How many invokes the many-invokes scenario makes. */
  readonly manyInvokes: number
  /** Records a /proc sample of every extension, tagged with the invokes done so far. */
  sample(afterInvokes: number): void
  /** Reads what each extension holds and whether it catches SIGTERM, just before Shutdown. */
  observeBeforeShutdown(): void
  readonly signal: AbortSignal
}

export interface ScenarioSpec {
  readonly name: ScenarioName
  /** One line: what the scenario does. */
  readonly title: string
  /** Which function it runs: the user's (`--function`, or the built-in one without it) or a built-in one it needs. */
  readonly function: 'user' | 'builtin' | 'builtin-fails-init'
  /** Boot options on top of the run's (a short function timeout, freeze). */
  readonly boot?: Partial<BootOptions>
  /** What its drive must wait for by design (sleeps, a timeout, frozen gaps), ms: the longest start first. Default 0. */
  waitsMs?(manyInvokes: number): number
  drive(context: ScenarioContext): Promise<void>
  readonly checks: readonly CheckSpec[]
}
