// Every wait in the sandbox is an event raced against a deadline, a fatal error and disposal.
import { Members } from '../lifecycle/members.js'

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
  readonly waiters: Members<FatalWaiter>
}

// One reaction per fatal promise and one listener per signal, fanned out to the waits in progress.
// A generation's fatal promise never settles in a healthy run, so a `.then` per wait stayed on it
// for the generation's life, and with it the wait's result: every invoke's answer (payload Buffer
// included) was retained, 1 MB per invoke of a 1 MB response (bench/RESULTS.md). A waiter is
// removed as soon as its wait settles (Members, not a Set: see there). (EventTarget listeners are
// also slow to add.)
const fatalFanOuts = new WeakMap<Promise<unknown>, FatalFanOut>()
const abortFanOuts = new WeakMap<AbortSignal, Members<() => void>>()

/** Calls `waiter` when `fatal` settles; returns how to stop listening. */
function listenFatal(fatal: Promise<unknown>, waiter: FatalWaiter): () => void {
  let fanOut = fatalFanOuts.get(fatal)
  if (fanOut === undefined) {
    const created: FatalFanOut = { settled: false, waiters: new Members() }
    const notify = (call: (waiter: FatalWaiter) => void) => {
      created.settled = true
      for (const each of created.waiters.take()) {
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
  return fanOut.waiters.add(waiter)
}

/** Calls `onAbort` when `signal` aborts; returns how to stop listening. */
function listenAbort(signal: AbortSignal, onAbort: () => void): () => void {
  let listeners = abortFanOuts.get(signal)
  if (listeners === undefined) {
    const created = new Members<() => void>()
    signal.addEventListener(
      'abort',
      () => {
        for (const each of created.take()) {
          each()
        }
      },
      { once: true },
    )
    abortFanOuts.set(signal, created)
    listeners = created
  }
  return listeners.add(onAbort)
}

/**
 * One timer shared by several waits that end at the same moment: an invoke's three waits (the
 * answer, the runtime's next /next, the INVOKE subscribers' next /event/next) all end at its
 * deadline, and a timer each was two timer inserts and removals per invoke too many.
 */
export class Deadline {
  #timer: NodeJS.Timeout | undefined
  #passed = false
  readonly #waiters = new Members<() => void>()

  /** `waitMs` from now; Infinity: never. */
  constructor(waitMs: number) {
    if (Number.isFinite(waitMs)) {
      this.#timer = setTimeout(() => {
        this.#passed = true
        for (const each of this.#waiters.take()) {
          each()
        }
      }, Math.max(0, waitMs))
    }
  }

  get passed(): boolean {
    return this.#passed
  }

  /** Calls `onPassed` when the deadline passes; returns how to stop listening. */
  listen(onPassed: () => void): () => void {
    return this.#waiters.add(onPassed)
  }

  /** No wait needs it any more. */
  clear(): void {
    clearTimeout(this.#timer)
    this.#waiters.take()
  }
}

/**
 * Waits for `promise`, unless `fatal` settles first, or the deadline passes: `waitMs` from now
 * (Infinity: no limit) or a shared Deadline. Rejects with the abort reason when `signal` aborts.
 */
export function raceUntil<T, F>(promise: Promise<T>, fatal: Promise<F>, deadline: number | Deadline, signal: AbortSignal): Promise<RaceResult<T, F>> {
  if (signal.aborted) {
    return Promise.reject(signal.reason)
  }
  // One plain timer (or a shared one), cleared by whichever side settles first. An
  // AbortController per wait (to cancel a timers/promises sleep) built a DOMException and an
  // AbortError, each with a captured stack, on every settle: three waits per invoke made it ~35%
  // of the harness's CPU per invoke (bench/RESULTS.md). The sandbox's signal still ends the wait,
  // as an event, never a poll.
  return new Promise<RaceResult<T, F>>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined
    let stopDeadline = (): unknown => undefined
    let stopAbort = (): unknown => undefined
    let stopFatal = (): unknown => undefined
    const stop = () => {
      clearTimeout(timer)
      stopDeadline()
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
    const passed = () => settle({ kind: 'deadline' })
    stopAbort = listenAbort(signal, () => fail(signal.reason))
    if (typeof deadline !== 'number') {
      if (deadline.passed) {
        // Still after an already-settled `promise`, as a 0 ms timer of its own would be.
        timer = setTimeout(passed, 0)
      } else {
        stopDeadline = deadline.listen(passed)
      }
    } else if (Number.isFinite(deadline)) {
      timer = setTimeout(passed, Math.max(0, deadline))
    }
    // `promise` first: when both are already settled, the value wins, as it always did.
    promise.then((value) => settle({ kind: 'value', value }), fail)
    stopFatal = listenFatal(fatal, { onFatal: (f) => settle({ kind: 'fatal', fatal: f as F }), onError: fail })
  })
}
