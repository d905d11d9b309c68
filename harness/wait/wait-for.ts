// Every wait of a lifecycle phase is an event raced against a deadline, a fatal error and disposal.
import { Members } from './members.js'

export type WaitResult<T, F> =
  | { readonly kind: 'value'; readonly value: T }
  | { readonly kind: 'fatal'; readonly fatal: F }
  | { readonly kind: 'deadline' }

/** Where deadlines come from: the real timers, or a test's fake clock. */
export interface Timers {
  setTimer(callback: () => void, ms: number): unknown
  clearTimer(handle: unknown): void
}

export const REAL_TIMERS: Timers = {
  setTimer: (callback, ms) => setTimeout(callback, ms),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
}

/** What ends a wait other than its own promise. */
export interface WaitOptions<F> {
  /** The first fatal error of the generation (or the harness's interruption). */
  readonly fatal: Promise<F>
  /** ms from now (Infinity: no limit) or a Deadline shared by several waits. */
  readonly deadline: number | Deadline
  /** Aborts the wait (rejecting with the reason): the sandbox is disposed. */
  readonly signal: AbortSignal
  readonly timers?: Timers
}

/** Someone waiting on a fatal promise through its fan-out. */
interface FatalWaiter {
  onFatal(value: unknown): void
  onError(error: unknown): void
}

interface FatalFanOut {
  settled: boolean
  readonly waiters: Members<FatalWaiter>
}

// One reaction per fatal promise and one listener per signal, fanned out to the waits in progress:
// a `.then` per wait on a promise that never settles kept every wait's result (see bench/findings.md,
// "Moved from the code (#18)").
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

/** One timer shared by several waits that end at the same moment (an invoke's three waits). */
export class Deadline {
  readonly #timers: Timers
  #timer: unknown
  #passed = false
  readonly #waiters = new Members<() => void>()

  /** `waitMs` from now; Infinity: never. */
  constructor(waitMs: number, timers: Timers = REAL_TIMERS) {
    this.#timers = timers
    if (Number.isFinite(waitMs)) {
      this.#timer = timers.setTimer(() => {
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
    this.#timers.clearTimer(this.#timer)
    this.#waiters.take()
  }
}

/**
 * Waits for `promise`, unless `options.fatal` settles first or the deadline passes. Rejects with
 * the abort reason when `options.signal` aborts.
 */
export function waitFor<T, F>(promise: Promise<T>, options: WaitOptions<F>): Promise<WaitResult<T, F>> {
  const { signal, deadline, fatal } = options
  if (signal.aborted) {
    return Promise.reject(signal.reason)
  }
  const timers = options.timers ?? REAL_TIMERS
  // One plain timer (or a shared one), no AbortController per wait: see bench/findings.md,
  // "Moved from the code (#18)".
  return new Promise<WaitResult<T, F>>((resolve, reject) => {
    let timer: unknown
    let stopDeadline = (): unknown => undefined
    let stopAbort = (): unknown => undefined
    let stopFatal = (): unknown => undefined
    const stop = () => {
      timers.clearTimer(timer)
      stopDeadline()
      stopAbort()
      stopFatal()
    }
    const settle = (result: WaitResult<T, F>) => {
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
        timer = timers.setTimer(passed, 0)
      } else {
        stopDeadline = deadline.listen(passed)
      }
    } else if (Number.isFinite(deadline)) {
      timer = timers.setTimer(passed, Math.max(0, deadline))
    }
    // `promise` first: when both are already settled, the value wins.
    promise.then((value) => settle({ kind: 'value', value }), fail)
    stopFatal = listenFatal(fatal, { onFatal: (f) => settle({ kind: 'fatal', fatal: f as F }), onError: fail })
  })
}
