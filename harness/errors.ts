// The one error class of the harness. Codes describe the harness, never the function: a function's
// failure (Runtime.ExitError, Sandbox.Timedout, ...) is data in an invoke result, not a HarnessError.

/** Caused by what the user gave us: options, files, a handler string. The CLI exits 2 on these. */
export const USER_ERROR_CODES = [
  'ERR_INVALID_OPTION', // an option has the wrong type, range or shape
  'ERR_FILE_NOT_FOUND', // a function folder, event file, layer or extension does not exist
  'ERR_BAD_INPUT', // a file exists but its content is unusable (bad JSON event, unsafe zip)
] as const

/** Faults of the harness or of the machine it runs on. */
export const SYSTEM_ERROR_CODES = [
  'ERR_DISPOSED', // a method was called on a sandbox after dispose()
  'ERR_INVALID_TRANSITION', // a lifecycle state machine was asked for a transition it forbids
  'ERR_SHUT_DOWN', // invoke() after shutdown(): a sandbox is not reused after Shutdown
  'ERR_SPAWN_FAILED', // a process could not be started for a reason that is not the user's
  'ERR_SERVER', // the loopback API server could not start
  'ERR_PROBE_FAILED', // a resource probe (PostgreSQL, processes, sink) failed
  'ERR_INTERNAL', // a bug in the harness
] as const

export type UserErrorCode = (typeof USER_ERROR_CODES)[number]
export type SystemErrorCode = (typeof SYSTEM_ERROR_CODES)[number]
export type HarnessErrorCode = UserErrorCode | SystemErrorCode

export interface HarnessErrorDetails {
  cause?: unknown
  /** Last lines a failed process printed: the evidence, so nobody has to rerun with logging on. */
  output?: string[]
}

export class HarnessError extends Error {
  readonly code: HarnessErrorCode
  readonly output: string[]

  constructor(code: HarnessErrorCode, message: string, details: HarnessErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.code = code
    this.output = details.output ?? []
    // `HarnessError [ERR_X]` in stack traces, like Node's own coded errors.
    this.name = `HarnessError [${code}]`
  }

  get isUserError(): boolean {
    return (USER_ERROR_CODES as readonly string[]).includes(this.code)
  }
}

export function isHarnessError(value: unknown, code?: HarnessErrorCode): value is HarnessError {
  return value instanceof HarnessError && (code === undefined || value.code === code)
}
