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
export { formatReport } from './record/report.js'
