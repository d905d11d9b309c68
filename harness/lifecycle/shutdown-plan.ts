// How long Shutdown may take and how it is split (LAMBDA-SPEC §3.3, RAPID rapid/shutdown.go).

export interface ShutdownPlan {
  /** Whole window from the start of Shutdown to the extensions' deadline. */
  readonly windowMs: number
  /** How long the runtime has after SIGTERM before SIGKILL. */
  readonly runtimeShareMs: number
  /** With no extension at all the runtime is SIGKILLed straight away, never SIGTERMed. */
  readonly sigterm: boolean
}

export interface ShutdownPlanInput {
  /** Extension files found (RAPID pre-creates an agent per file, registered or not). */
  readonly externals: number
  /** Internal extensions that registered. */
  readonly internals: number
  /** --runtime-shutdown-ms; the docs' 300 ms (500 with internals) when undefined. */
  readonly runtimeShutdownMs: number | undefined
}

export const EXTERNAL_WINDOW_MS = 2000
export const INTERNAL_WINDOW_MS = 500
/** RAPID waits this long for every process to be reaped after the deadline (maxProcessExitWait). */
export const MAX_PROCESS_EXIT_WAIT_MS = 2000

export function planShutdown(input: ShutdownPlanInput): ShutdownPlan {
  if (input.externals === 0 && input.internals === 0) {
    return { windowMs: 0, runtimeShareMs: 0, sigterm: false }
  }
  const windowMs = input.externals > 0 ? EXTERNAL_WINDOW_MS : INTERNAL_WINDOW_MS
  // The docs give the runtime 300 ms (500 with an internal extension); RAPID uses 30% of the
  // window. Which one production uses is UNCONFIRMED, so the docs' figure is the default and
  // --runtime-shutdown-ms overrides it.
  const share = input.runtimeShutdownMs ?? (input.internals > 0 ? 500 : 300)
  return { windowMs, runtimeShareMs: Math.min(share, windowMs), sigterm: true }
}
