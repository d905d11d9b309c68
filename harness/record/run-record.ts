// The RunRecord: one JSON document per run, the contract of DESIGN.md. Reports and checks are
// views of it; nothing here knows about processes or HTTP.
import type { ShutdownReason } from '../config/options.js'

export type PhaseStatus = 'success' | 'error' | 'failure' | 'timeout'
export type InvokeStatus = 'success' | 'error' | 'timeout' | 'failure'

/** Why the harness sent a signal, as data: verdicts and checks key on this, never on `why`'s words. */
export const SIGNAL_REASONS = ['freeze', 'thaw', 'shutdown', 'runtime-share-over', 'no-extensions', 'not-subscribed', 'deadline'] as const
export type SignalReason = (typeof SIGNAL_REASONS)[number]

export interface SignalSent {
  readonly signal: NodeJS.Signals
  readonly atMs: number
  readonly reason: SignalReason
  /** The same reason in words, for people: "shutdown", "runtime share of 500 ms over", "deadline (2000 ms) reached". */
  readonly why: string
}

export interface EventReceived {
  readonly eventType: 'INVOKE' | 'SHUTDOWN'
  readonly atMs: number
  readonly requestId?: string
  readonly shutdownReason?: ShutdownReason
  readonly deadlineMs?: number
}

export interface ProcessRecord {
  readonly name: string
  readonly kind: 'runtime' | 'extension'
  /** Which Init started it: 0 for the first, 1 after the first reset, … */
  readonly generation: number
  pid: number | null
  startedAtMs: number
  /** Lambda's agent state for extensions (Exited, ShutdownFailed, …); the runtime's last API state. */
  state: string
  signals: SignalSent[]
  events: EventReceived[]
  exit: { code: number | null; signal: NodeJS.Signals | null } | null
  exitedAtMs: number | null
  /** The harness had to SIGKILL it. */
  killed: boolean
  /** Registered events, for extensions. */
  subscribed?: string[]
  /** `Extension.InitError` / `Extension.ExitError` type an extension reported, if any. */
  reportedError?: string
  /** Whether it had a SIGTERM handler installed when SIGTERM was sent (from /proc). */
  sigtermHandler?: boolean
  /** The runtime: whether it was waiting in /next (Ready) when SIGTERM was sent. */
  waitingForNext?: boolean
  /** What its process group still held when the harness SIGKILLed it. */
  heldAtKill?: { tcp: { local: string; remote: string; state: string }[]; files: string[] }
}

export interface InitRecord {
  status: PhaseStatus
  phase: 'init' | 'invoke'
  errorType?: string
  durationMs: number
  startedAtMs: number
  /** The extension names that registered, internal ones included. */
  extensions: { name: string; external: boolean; events: string[]; state: string }[]
}

export interface InvocationRecord {
  readonly requestId: string
  status: InvokeStatus
  /** The platform's error type (cleaned as RAPID does), as REPORT and telemetry show it. */
  errorType?: string
  /** The body the caller received. */
  response: string
  contentType: string
  /** Set when the caller would see X-Amz-Function-Error: Unhandled. */
  functionError?: 'Unhandled'
  durationMs: number
  startedAtMs: number
  /** A suppressed Init run inside this invoke, after a reset. */
  init?: InitRecord
  /** The reset this invoke caused. */
  resetReason?: ShutdownReason
  /** The harness was interrupted (SIGINT, SIGTERM) while this invoke ran: it ended there, unanswered. */
  interrupted?: true
}

export interface ShutdownRecord {
  readonly reason: ShutdownReason
  /** true for the final Shutdown; false for a reset after a failure. */
  readonly final: boolean
  startedAtMs: number
  durationMs: number
  windowMs: number
  runtimeShareMs: number
  /** Epoch ms sent as deadlineMs in SHUTDOWN. */
  deadlineEpochMs: number
  /** The deadline on the sandbox clock. */
  deadlineAtMs: number
  runtime: ProcessRecord | null
  extensions: ProcessRecord[]
  /** Processes found alive in a sandbox process group after its leader had exited. */
  orphans: { group: string; pids: number[] }[]
}

export interface Problem {
  /** A stable code for checks: extension-killed-at-deadline, reset, runtime-overran-share, … */
  readonly code: string
  readonly process?: string
  readonly message: string
}

export interface TimelineEntry {
  readonly atMs: number
  readonly kind: 'phase' | 'api' | 'event' | 'signal' | 'spawn' | 'exit' | 'output' | 'problem'
  readonly process?: string
  readonly detail: string
}

/** One Telemetry or Logs API subscription and what became of the records it was owed. */
export interface TelemetrySubscriberRecord {
  /** The extension's name. */
  readonly name: string
  readonly api: 'telemetry' | 'logs'
  readonly external: boolean
  /** Which Init it subscribed in: 0 for the first, 1 after the first reset, … */
  readonly generation: number
  readonly types: string[]
  /** `HTTP http://sandbox.localdomain:4243/` or `TCP sandbox.localdomain:4243`. */
  readonly destination: string
  readonly buffering: { readonly maxItems: number; readonly maxBytes: number; readonly timeoutMs: number }
  readonly subscribedAtMs: number
  /** Records the platform had for it, replayed ones included (platform.logsDropped notices not counted). */
  records: number
  delivered: number
  batches: number
  /** Delivery attempts after a failed one. */
  retries: number
  /** Given up on after the retries or past its buffer, and reported to it with platform.logsDropped. */
  dropped: number
  /** Still buffered or in flight when its process was killed, or exited before they could go out. */
  lost: number
  /** Emitted after SHUTDOWN went out and not received before a clean exit: nobody could deliver them. */
  unsentAtExit: number
  endedAtMs: number | null
}

/** `resources.telemetry` */
export interface TelemetryResources {
  subscribers: TelemetrySubscriberRecord[]
}

export interface RunRecord {
  harness: { name: 'lambda-harness'; version: string }
  startedAt: string
  runtime: {
    profile: string
    /** AWS_EXECUTION_ENV; null on an OS-only runtime (provided.*), which has none. */
    executionEnv: string | null
    os: string
    command: string[]
    python: { command: string; version: string | null; boto3: string | null; botocore: string | null } | null
  }
  function: {
    dir: string
    handler: string
    name: string
    timeoutMs: number
    memoryMB: number
    /** Set when the options came from a template: the resource and the properties that were used. */
    template?: { file: string; logicalId: string; fromTemplate: string[] }
  }
  init: InitRecord | null
  invocations: InvocationRecord[]
  resets: ShutdownRecord[]
  shutdown: ShutdownRecord | null
  processes: ProcessRecord[]
  resources: Record<string, unknown>
  verdict: { clean: boolean; problems: Problem[] }
  warnings: string[]
  timeline: TimelineEntry[]
  /** The platform's own log lines as CloudWatch shows them: INIT_START, START, END, REPORT, … (LAMBDA-SPEC §6). */
  logs: string[]
  /** Timeline output lines left out past the cap, so a flood cannot exhaust memory. */
  droppedOutputLines: number
  /** The harness was interrupted (SIGINT, SIGTERM): the invokes after that point never ran. */
  interrupted: boolean
  /** Set when the record is a summary (`record: 'summary'`): what it kept of the run and what it left out. */
  summary?: RecordSummary
}

/**
 * A summary keeps the first and the last `keptInvocations` invocations with their timeline entries
 * and log lines, and of the invokes between only what did not simply succeed: every such
 * invocation with its rows, every signal, exit, spawn, problem and phase other than START/END.
 */
export interface RecordSummary {
  readonly keptInvocations: number
  /** How many there were in the run. */
  readonly invocations: number
  readonly timelineEntries: number
  readonly logLines: number
  /** Left out: uneventful invokes between the first and the last, their rows, and their INVOKE events in `processes[].events`. */
  readonly dropped: { readonly invocations: number; readonly timelineEntries: number; readonly logLines: number; readonly processEvents: number }
}
