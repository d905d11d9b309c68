// The public API. Exports only.
export { boot, Sandbox, MAX_REQUEST_BYTES } from './sandbox/sandbox.js'
export type { InvokeOptions, ShutdownOptions, SandboxHooks } from './sandbox/sandbox.js'
export type { BootOptions, ShutdownReason } from './config/options.js'
export type { TelemetryOptions } from './config/telemetry-options.js'
export { RUNTIME_IDS, RUNTIME_PROFILES, DEFAULT_RUNTIME } from './config/profiles.js'
export type { RuntimeId, RuntimeProfile } from './config/profiles.js'
export { HarnessError, isHarnessError, USER_ERROR_CODES, SYSTEM_ERROR_CODES } from './errors.js'
export type { HarnessErrorCode } from './errors.js'
export type {
  RunRecord,
  InvocationRecord,
  ShutdownRecord,
  ProcessRecord,
  InitRecord,
  Problem,
  TimelineEntry,
  TelemetryResources,
  TelemetrySubscriberRecord,
} from './record/run-record.js'
export { PROBLEM_CODES, SIGNAL_REASONS } from './record/run-record.js'
export type { ProblemCode, SignalReason, PlatformFault } from './record/run-record.js'
export { verdict } from './record/verdict.js'
export { formatReport } from './record/report.js'
export { renderHtmlTimeline } from './record/html.js'
export type { TimelineSection, TimelineCheck } from './record/html.js'
export type { CheckReport, ScenarioReport, CheckHooks } from './conformance/runner.js'
import type { CheckOptions } from './conformance/options.js'
import type { CheckHooks, CheckReport } from './conformance/runner.js'

/** The conformance suite. Its modules (the scenarios, the checks, the PostgreSQL probe) load at the first call: a user who only boots sandboxes never loads them. */
export async function runCheck(options: CheckOptions, hooks: CheckHooks = {}): Promise<CheckReport> {
  const runner = await import('./conformance/runner.js')
  return runner.runCheck(options, hooks)
}
export type { CheckOptions, PostgresMode } from './conformance/options.js'
export type { CheckResult, CheckOutcome, ScenarioName, LeakTolerance } from './conformance/types.js'
export { formatCheckReport, REPORTERS } from './conformance/reporters.js'
export type { ReporterName } from './conformance/reporters.js'
