// The platform events of the Telemetry API as typed records (LAMBDA-SPEC §4.2; AWS docs
// telemetry-schema-reference), and the port through which the lifecycle reports them.

export type InitializationType = 'on-demand'
export type InitPhase = 'init' | 'invoke'
export type EventStatus = 'success' | 'error' | 'failure' | 'timeout'
export interface Tracing {
  readonly type: 'X-Amzn-Trace-Id'
  readonly value: string
}

// Type aliases (not interfaces) so that each record is also a Record<string, unknown> on the wire.
export type InitStartRecord = {
  readonly initializationType: InitializationType
  readonly phase: InitPhase
  readonly functionName: string
  readonly functionVersion: string
  readonly runtimeVersion?: string
  readonly runtimeVersionArn?: string
}
export type InitRuntimeDoneRecord = {
  readonly initializationType: InitializationType
  readonly phase: InitPhase
  readonly status: EventStatus
  readonly errorType?: string
}
export type InitReportRecord = {
  readonly initializationType: InitializationType
  readonly phase: InitPhase
  readonly status: EventStatus
  readonly errorType?: string
  readonly metrics: { readonly durationMs: number }
}
export type ExtensionRecord = {
  readonly name: string
  readonly state: string
  readonly events: readonly string[]
  readonly errorType?: string
}
export type StartRecord = {
  readonly requestId: string
  readonly version: string
  readonly tracing?: Tracing
}
export type RuntimeDoneRecord = {
  readonly requestId: string
  readonly status: EventStatus
  readonly errorType?: string
  readonly metrics: { readonly durationMs: number; readonly producedBytes: number }
  readonly tracing?: Tracing
}
export type ReportMetrics = {
  readonly durationMs: number
  readonly billedDurationMs: number
  readonly memorySizeMB: number
  readonly maxMemoryUsedMB: number
  readonly initDurationMs?: number
}
export type ReportRecord = {
  readonly requestId: string
  readonly status: EventStatus
  readonly errorType?: string
  readonly metrics: ReportMetrics
  readonly tracing?: Tracing
}
export type TelemetrySubscriptionRecord = {
  readonly name: string
  readonly state: 'Subscribed'
  readonly types: readonly string[]
}
export type LogsDroppedRecord = {
  readonly droppedBytes: number
  readonly droppedRecords: number
  readonly reason: string
}

/** Each platform event type and its record. */
export interface PlatformRecords {
  'platform.initStart': InitStartRecord
  'platform.initRuntimeDone': InitRuntimeDoneRecord
  'platform.initReport': InitReportRecord
  'platform.extension': ExtensionRecord
  'platform.start': StartRecord
  'platform.runtimeDone': RuntimeDoneRecord
  'platform.report': ReportRecord
  'platform.telemetrySubscription': TelemetrySubscriptionRecord
  'platform.logsDropped': LogsDroppedRecord
}

export type PlatformEventType = keyof PlatformRecords

/** The discriminated union of every platform event: `{ type, record }`. */
export type PlatformEvent = { [K in PlatformEventType]: { readonly type: K; readonly record: PlatformRecords[K] } }[PlatformEventType]

/** The port: what the lifecycle tells the telemetry side (the TelemetryHub implements it). */
export interface PlatformEvents {
  /** A platform.* event and its record, at the moment it happens. */
  platform<K extends PlatformEventType>(type: K, record: PlatformRecords[K]): void
  /** One line the runtime (`function`) or an extension (`extension`) wrote. */
  line(source: 'function' | 'extension', process: string, line: string): void
  /** Init has completed: subscriptions are closed from now on (RAPID doRuntimeDomainInit). */
  initDone(): void
  /** Managed Instances only, after the runtime exited and before SHUTDOWN: deliver what is buffered now within `budgetMs`. */
  flush(budgetMs: number): Promise<void>
  /** SHUTDOWN goes out now: a record emitted from here on could not reach an extension that exits on SHUTDOWN. */
  shutdownStarts(): void
  /** A process of the sandbox ended: the subscriptions it held (internal extensions' too) end with it. */
  exited(process: string, exit: { readonly code: number | null; readonly signal: NodeJS.Signals | null }): void
  /** The sandbox is disposed: stop every delivery and release sockets and timers. */
  close(): Promise<void>
}
