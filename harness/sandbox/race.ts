// Every wait in the sandbox is an event raced against a deadline, a fatal error and disposal.

export type RaceResult<T, F> =
  | { readonly kind: 'value'; readonly value: T }
  | { readonly kind: 'fatal'; readonly fatal: F }
  | { readonly kind: 'deadline' }

/**
 * Waits for `promise`, unless `fatal` settles first, or `waitMs` passes (Infinity: no limit).
 * Rejects with the abort reason when `signal` aborts.
 */
export function raceUntil<T, F>(promise: Promise<T>, fatal: Promise<F>, waitMs: number, signal: AbortSignal): Promise<RaceResult<T, F>> {
  if (signal.aborted) {
    return Promise.reject(signal.reason)
  }
  // One plain timer, cleared by whichever side settles first. An AbortController per wait (to
  // cancel a timers/promises sleep) built a DOMException and an AbortError, each with a captured
  // stack, on every settle: three waits per invoke made it ~35% of the harness's CPU per invoke
  // (bench/RESULTS.md). The sandbox's signal still ends the wait, as an event, never a poll.
  return new Promise<RaceResult<T, F>>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const settle = (result: RaceResult<T, F>) => {
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      resolve(result)
    }
    const fail = (error: unknown) => {
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      reject(error)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    if (Number.isFinite(waitMs)) {
      timer = setTimeout(() => settle({ kind: 'deadline' }), Math.max(0, waitMs))
    }
    promise.then((value) => settle({ kind: 'value', value }), fail)
    fatal.then((f) => settle({ kind: 'fatal', fatal: f }), fail)
  })
}
