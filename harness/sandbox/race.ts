// Every wait in the sandbox is an event raced against a deadline, a fatal error and disposal.

export type RaceResult<T, F> =
  | { readonly kind: 'value'; readonly value: T }
  | { readonly kind: 'fatal'; readonly fatal: F }
  | { readonly kind: 'deadline' }

/** Someone waiting on a fatal promise through its fan-out. */
interface FatalWaiter {
  onFatal(value: unknown): void
  onError(error: unknown): void
}

interface FatalFanOut {
  settled: boolean
  readonly waiters: Set<FatalWaiter>
}

// One reaction per fatal promise and one listener per signal, fanned out to the waits in progress.
// A generation's fatal promise never settles in a healthy run, so a `.then` per wait stayed on it
// for the generation's life, and with it the wait's result: every invoke's answer (payload Buffer
// included) was retained, 1 MB per invoke of a 1 MB response (bench/RESULTS.md). A waiter is
// removed from its set as soon as its wait settles. (EventTarget listeners are also slow to add.)
const fatalFanOuts = new WeakMap<Promise<unknown>, FatalFanOut>()
const abortFanOuts = new WeakMap<AbortSignal, Set<() => void>>()

/** Calls `waiter` when `fatal` settles; returns how to stop listening. */
function listenFatal(fatal: Promise<unknown>, waiter: FatalWaiter): () => void {
  let fanOut = fatalFanOuts.get(fatal)
  if (fanOut === undefined) {
    const created: FatalFanOut = { settled: false, waiters: new Set() }
    const notify = (call: (waiter: FatalWaiter) => void) => {
      created.settled = true
      const waiters = [...created.waiters]
      created.waiters.clear()
      for (const each of waiters) {
        call(each)
      }
    }
    fatal.then(
      (value) => notify((each) => each.onFatal(value)),
      (error: unknown) => notify((each) => each.onError(error)),
    )
    fatalFanOuts.set(fatal, created)
    fanOut = created
  }
  if (fanOut.settled) {
    // Settled long ago: a one-off reaction, released once it has run.
    fatal.then(
      (value) => waiter.onFatal(value),
      (error: unknown) => waiter.onError(error),
    )
    return () => undefined
  }
  const waiters = fanOut.waiters
  waiters.add(waiter)
  return () => waiters.delete(waiter)
}

/** Calls `onAbort` when `signal` aborts; returns how to stop listening. */
function listenAbort(signal: AbortSignal, onAbort: () => void): () => void {
  let listeners = abortFanOuts.get(signal)
  if (listeners === undefined) {
    const created = new Set<() => void>()
    signal.addEventListener(
      'abort',
      () => {
        const all = [...created]
        created.clear()
        for (const each of all) {
          each()
        }
      },
      { once: true },
    )
    abortFanOuts.set(signal, created)
    listeners = created
  }
  const set = listeners
  set.add(onAbort)
  return () => set.delete(onAbort)
}

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
    let stopAbort = (): unknown => undefined
    let stopFatal = (): unknown => undefined
    const stop = () => {
      clearTimeout(timer)
      stopAbort()
      stopFatal()
    }
    const settle = (result: RaceResult<T, F>) => {
      stop()
      resolve(result)
    }
    const fail = (error: unknown) => {
      stop()
      reject(error)
    }
    stopAbort = listenAbort(signal, () => fail(signal.reason))
    if (Number.isFinite(waitMs)) {
      timer = setTimeout(() => settle({ kind: 'deadline' }), Math.max(0, waitMs))
    }
    // `promise` first: when both are already settled, the value wins, as it always did.
    promise.then((value) => settle({ kind: 'value', value }), fail)
    stopFatal = listenFatal(fatal, { onFatal: (f) => settle({ kind: 'fatal', fatal: f as F }), onError: fail })
  })
}
