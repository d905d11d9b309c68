// What the sandbox tells the telemetry side: platform events as Lambda names them (LAMBDA-SPEC
// §4.2), every output line, when Init ends, and when SHUTDOWN goes out.

export type PlatformEventType =
  | 'platform.initStart'
  | 'platform.initRuntimeDone'
  | 'platform.initReport'
  | 'platform.start'
  | 'platform.runtimeDone'
  | 'platform.report'
  | 'platform.extension'
  | 'platform.telemetrySubscription'
  | 'platform.logsDropped'

export interface TelemetrySink {
  /** A platform.* event and its record, at the moment it happens. */
  platform(type: PlatformEventType, record: Record<string, unknown>): void
  /** One line the runtime (`function`) or an extension (`extension`) wrote. */
  line(source: 'function' | 'extension', process: string, line: string): void
  /** Init has completed: subscriptions are closed from now on (RAPID doRuntimeDomainInit). */
  initDone(): void
  /** Managed Instances only, after the runtime exited and before SHUTDOWN: deliver what is buffered now within `budgetMs`. */
  flush(budgetMs: number): Promise<void>
  /**
   * SHUTDOWN goes out now: delivery goes on under each subscription's buffering, and a record
   * emitted from here on could not reach an extension that exits on SHUTDOWN.
   */
  shutdownStarts(): void
  /** A process of the sandbox ended: the subscriptions it held (internal extensions' too) end with it. */
  exited(process: string, exit: { readonly code: number | null; readonly signal: NodeJS.Signals | null }): void
  /** The sandbox is disposed: stop every delivery and release sockets and timers. */
  close(): Promise<void>
}

/** The sink of a sandbox that has no telemetry subscribers wired in. */
export const NO_TELEMETRY: TelemetrySink = {
  platform: () => undefined,
  line: () => undefined,
  initDone: () => undefined,
  flush: () => Promise.resolve(),
  shutdownStarts: () => undefined,
  exited: () => undefined,
  close: () => Promise.resolve(),
}
