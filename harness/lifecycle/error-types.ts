// Lambda's own error vocabulary (RAPID fatalerror.go, handler/constants.go). These are data that
// the harness reports, never harness faults.

export type FatalErrorType =
  | 'Extension.InitError'
  | 'Extension.ExitError'
  | 'Extension.Crash'
  | 'Extension.LaunchError'
  | 'Runtime.ExitError'
  | 'Runtime.InvalidEntrypoint'
  | 'Runtime.Unknown'
  | 'Function.ResponseSizeTooLarge'
  | 'Function.Unknown'
  | 'Sandbox.Failure'
  | 'Sandbox.Timeout'

/** What a timed-out invoke's caller sees (the platform's internal type is Sandbox.Timeout). */
export const CALLER_TIMEOUT_ERROR_TYPE = 'Sandbox.Timedout'

/** An answer the API gives instead of doing what was asked, in Lambda's error types (api/statuses.ts gives the HTTP status). */
export interface ApiRejection {
  readonly errorType: string
  readonly errorMessage: string
}

export function reject(errorType: string, errorMessage: string): ApiRejection {
  return { errorType, errorMessage }
}

/** Whether an API call's result is a refusal rather than what was asked for. */
export function isRejection(value: object): value is ApiRejection {
  return 'errorMessage' in value
}

// Unanchored on purpose: RAPID uses regexp.MatchString, so "xRuntime.Foo" passes as well.
const VALID_ERROR_TYPE = /(Runtime|Function)\.[A-Z][a-zA-Z]+/

/** RAPID's GetValidRuntimeOrFunctionErrorType: what telemetry and REPORT lines show. */
export function cleanErrorType(header: string | undefined): string {
  if (header !== undefined && VALID_ERROR_TYPE.test(header)) {
    return header
  }
  return header?.startsWith('Function.') === true ? 'Function.Unknown' : 'Runtime.Unknown'
}

/** RAPID's "RequestId: <id> Error: <err>" message form for platform-made errors. */
export function platformErrorBody(requestId: string, errorType: string, error: string): string {
  return JSON.stringify({ errorMessage: `RequestId: ${requestId} Error: ${error}`, errorType })
}

/** The message of a function timeout as the caller sees it: "Task timed out after 3.00 seconds". */
export function timeoutMessage(timeoutMs: number): string {
  return `Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`
}

/** How RAPID words a process's end in Runtime.ExitError / Extension.Crash messages. */
export function describeExit(code: number | null, signal: string | null): string {
  if (signal !== null) {
    return `signal: ${signal === 'SIGKILL' ? 'killed' : signal === 'SIGTERM' ? 'terminated' : signal}`
  }
  return `exit status ${code ?? 0}`
}
