// Every wait in the sandbox is an event raced against a deadline, a fatal error and disposal.
import { setTimeout as sleep } from 'node:timers/promises'

export type RaceResult<T, F> =
  | { readonly kind: 'value'; readonly value: T }
  | { readonly kind: 'fatal'; readonly fatal: F }
  | { readonly kind: 'deadline' }

/**
 * Waits for `promise`, unless `fatal` settles first, or `waitMs` passes (Infinity: no limit).
 * Rejects with the abort reason when `signal` aborts.
 */
export async function raceUntil<T, F>(promise: Promise<T>, fatal: Promise<F>, waitMs: number, signal: AbortSignal): Promise<RaceResult<T, F>> {
  const timer = new AbortController()
  const onAbort = () => timer.abort()
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    const racers: Promise<RaceResult<T, F>>[] = [
      promise.then((value) => ({ kind: 'value', value }) as const),
      fatal.then((f) => ({ kind: 'fatal', fatal: f }) as const),
    ]
    if (Number.isFinite(waitMs)) {
      racers.push(sleep(Math.max(0, waitMs), undefined, { signal: timer.signal }).then(() => ({ kind: 'deadline' }) as const))
    }
    racers.push(
      new Promise<never>((_, reject) => {
        if (signal.aborted) {
          reject(signal.reason)
        }
        timer.signal.addEventListener('abort', () => signal.aborted && reject(signal.reason), { once: true })
      }),
    )
    return await Promise.race(racers)
  } finally {
    signal.removeEventListener('abort', onAbort)
    timer.abort()
  }
}
