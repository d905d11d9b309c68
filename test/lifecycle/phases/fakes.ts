// A fake clock and fake processes for the phases: no real process, no sleep; time moves only
// when every promise has settled and the next timer is due.
import type { Clock, ProcessPort } from '../../../harness/lifecycle/phases/ports.js'
import type { SignalReason } from '../../../harness/lifecycle/signal-reasons.js'

const EPOCH = 1_700_000_000_000

interface Timer {
  readonly atMs: number
  readonly seq: number
  readonly callback: () => void
}

export class FakeClock implements Clock {
  #nowMs: number
  #seq = 0
  #timers: Timer[] = []

  constructor(startMs = 1000) {
    this.#nowMs = startMs
  }

  now(): number {
    return this.#nowMs
  }

  since(startedAtMs: number): number {
    return this.#nowMs - startedAtMs
  }

  epochAt(atMs: number): number {
    return EPOCH + atMs
  }

  atEpoch(epochMs: number): number {
    return epochMs - EPOCH
  }

  setTimer(callback: () => void, ms: number): unknown {
    const timer: Timer = { atMs: this.#nowMs + Math.max(0, ms), seq: this.#seq++, callback }
    this.#timers.push(timer)
    return timer
  }

  clearTimer(handle: unknown): void {
    this.#timers = this.#timers.filter((timer) => timer !== handle)
  }

  /** Settles `promise`: runs every reaction, then moves to the next due timer, until it is settled. */
  async run<T>(promise: Promise<T>): Promise<T> {
    let settled = false
    promise.then(
      () => (settled = true),
      () => (settled = true),
    )
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve))
      if (settled) {
        return promise
      }
      const next = this.#timers.sort((a, b) => a.atMs - b.atMs || a.seq - b.seq).shift()
      if (next === undefined) {
        throw new Error(`stuck at ${this.#nowMs} ms: nothing settles and no timer is due`)
      }
      this.#nowMs = next.atMs
      next.callback()
    }
  }
}

/** How a fake process answers: ms after the cue until it exits (with a code), or never. */
export interface Reaction {
  readonly afterMs: number | 'never'
  readonly code?: number
}

export interface Exit {
  readonly code: number | null
  readonly signal: 'SIGKILL' | null
  readonly atMs: number
}

export class FakeProcess implements ProcessPort {
  readonly name: string
  readonly #clock: FakeClock
  readonly #onSigterm: Reaction
  readonly #waiters: ((exited: boolean) => void)[] = []
  exit: Exit | undefined
  readonly signals: { signal: string; reason: SignalReason; atMs: number }[] = []
  onExit: ((exit: Exit) => void) | undefined

  constructor(name: string, clock: FakeClock, onSigterm: Reaction = { afterMs: 'never' }) {
    this.name = name
    this.#clock = clock
    this.#onSigterm = onSigterm
  }

  get alive(): boolean {
    return this.exit === undefined
  }

  terminate(reason: SignalReason): void {
    this.signals.push({ signal: 'SIGTERM', reason, atMs: this.#clock.now() })
    this.react(this.#onSigterm)
  }

  kill(reason: SignalReason): void {
    this.signals.push({ signal: 'SIGKILL', reason, atMs: this.#clock.now() })
    this.exitNow(null, 'SIGKILL')
  }

  /** Exits `reaction.afterMs` from now. */
  react(reaction: Reaction): void {
    if (reaction.afterMs !== 'never') {
      this.#clock.setTimer(() => this.exitNow(reaction.code ?? 0, null), reaction.afterMs)
    }
  }

  exitNow(code: number | null, signal: 'SIGKILL' | null): void {
    if (this.exit !== undefined) {
      return
    }
    this.exit = { code, signal, atMs: this.#clock.now() }
    this.onExit?.(this.exit)
    for (const waiter of this.#waiters.splice(0)) {
      waiter(true)
    }
  }

  waitExit(waitMs: number): Promise<boolean> {
    if (!this.alive) {
      return Promise.resolve(true)
    }
    return new Promise((resolve) => {
      const timer = this.#clock.setTimer(() => resolve(false), waitMs)
      this.#waiters.push((exited) => {
        this.#clock.clearTimer(timer)
        resolve(exited)
      })
    })
  }
}
