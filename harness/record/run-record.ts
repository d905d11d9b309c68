// The RunRecord: one JSON document per run, the contract of DESIGN.md. Reports and checks are
// views of it; nothing here knows about processes or HTTP.
import type { ShutdownReason } from '../config/options.js'

export type PhaseStatus = 'success' | 'error' | 'failure' | 'timeout'
export type InvokeStatus = 'success' | 'error' | 'timeout' | 'failure'

import type { SignalReason } from '../lifecycle/signal-reasons.js'
import type { InvokeResult } from '../lifecycle/phases/invoke.js'
export { SIGNAL_REASONS, type SignalReason } from '../lifecycle/signal-reasons.js'

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

/** One invoke: what the caller got and REPORT said (lifecycle's InvokeResult), and a suppressed Init. */
export interface InvocationRecord extends InvokeResult {
  status: InvokeStatus
  /** A suppressed Init run inside this invoke, after a reset. */
  init?: InitRecord
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
  /** A reset's cause in words: the fatal error, or how the invoke that caused it ended. */
  cause?: string
}

/** Every code a problem of the verdict can have (record/verdict.ts says when each applies). */
export const PROBLEM_CODES = [
  'interrupted',
  'init-failed',
  'reset',
  'runtime-overran-share',
  'killed-from-outside',
  'extension-killed-at-deadline',
  'extension-shutdown-failed',
  'extension-reported-error',
  'orphan-processes',
  'telemetry-lost',
  'telemetry-dropped',
  'sandbox-holder-killed',
  'harness-out-of-fds',
  'db-session-dropped',
  'db-session-open',
  'probe-failed',
] as const
export type ProblemCode = (typeof PROBLEM_CODES)[number]

export interface Problem {
  /** A stable code for checks. */
  readonly code: ProblemCode
  readonly process?: string
  readonly message: string
}

export interface TimelineEntry {
  readonly atMs: number
  readonly kind: 'phase' | 'api' | 'event' | 'signal' | 'spawn' | 'exit' | 'output' | 'problem'
  readonly process?: string
  readonly detail: string
}

/** What ended a subscription: its process's exit, the next Init (its process was gone), or the sandbox's end. */
export type SubscriberEnd =
  | { readonly by: 'exit'; readonly code: number | null; readonly signal: NodeJS.Signals | null }
  | { readonly by: 'next-init' }
  | { readonly by: 'sandbox-end' }

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
  /** Set when it ended: by what. */
  end?: SubscriberEnd
}

/** `resources.telemetry` */
export interface TelemetryResources {
  subscribers: TelemetrySubscriberRecord[]
}

/** One database session the PostgreSQL probe saw (probes/postgres.ts `PostgresSession`). */
export interface PostgresSessionRecord {
  /** application_name at login: the PGAPPNAME the harness gave the process ('' if none). */
  process: string
  state: 'closed' | 'dropped' | 'open'
  backendPid: number
  /** Unix epoch ms, server clock. */
  connectedAtMs?: number
  /** Unix epoch ms, server clock; absent while open. */
  endedAtMs?: number
  /** dropped: the server's message; open: the backend's pg_stat_activity state. */
  reason?: string
}

/** `resources.postgres`: the probe's report after the final Shutdown. */
export interface PostgresResources {
  closed: number
  dropped: number
  open: number
  /** In connection order. */
  sessions: PostgresSessionRecord[]
}

/** `resources.sink`: what the sink received. */
export interface SinkResources {
  url: string
  /** Requests answered 200. */
  requests: number
  records: number
  /** Body bytes of those requests, as sent. */
  bytes: number
}

/** What the sandbox's probes saw: each is present when its probe ran. */
export interface RunResources {
  postgres?: PostgresResources
  telemetry?: TelemetryResources
  sink?: SinkResources
}

/** A fault of the harness or the platform, not of a process: the verdict reports each. */
export const PLATFORM_FAULT_KINDS = ['interrupted', 'sandbox-holder-killed', 'harness-out-of-fds', 'probe-failed'] as const
export type PlatformFaultKind = (typeof PLATFORM_FAULT_KINDS)[number]

export interface PlatformFault {
  readonly kind: PlatformFaultKind
  readonly atMs: number
  /**
   * interrupted: what interrupted it (the signal); sandbox-holder-killed: how the holder was lost;
   * harness-out-of-fds: what the harness failed to open; probe-failed: the probe's error.
   */
  readonly detail: string
  /** harness-out-of-fds: the harness's soft descriptor limit, when known. */
  readonly fdLimit?: number
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
    /**
     * Whether the runtime's SIGTERM handler can run while it waits in /next: false for a Python
     * client up to 3.11 (LAMBDA-SPEC §3.3); true for a runtime command of the user's. Absent: true.
     */
    sigtermHandlerRunsInNext?: boolean
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
  resources: RunResources
  /** record/verdict.ts `verdict()` of the rest of the record, computed when the record is read. */
  verdict: { clean: boolean; problems: Problem[] }
  warnings: string[]
  timeline: TimelineEntry[]
  /** The platform's own log lines as CloudWatch shows them: INIT_START, START, END, REPORT, … (LAMBDA-SPEC §6). */
  logs: string[]
  /** Timeline output lines left out past the cap, so a flood cannot exhaust memory. */
  droppedOutputLines: number
  /** The harness was interrupted (SIGINT, SIGTERM): the invokes after that point never ran. */
  interrupted: boolean
  /** Faults of the harness and the platform, in time order; absent when there were none. */
  platformFaults?: PlatformFault[]
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
