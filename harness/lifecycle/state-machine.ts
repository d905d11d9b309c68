import { HarnessError } from '../errors.js'

/** A default-deny transition table: a (state, event) pair that is not listed is refused. */
export type TransitionTable<S extends string, E extends string> = Readonly<Record<S, Readonly<Partial<Record<E, S>>>>>

export class StateMachine<S extends string, E extends string> {
  readonly #table: TransitionTable<S, E>
  readonly #owner: string
  #state: S

  constructor(owner: string, table: TransitionTable<S, E>, initial: S) {
    this.#owner = owner
    this.#table = table
    this.#state = initial
  }

  get state(): S {
    return this.#state
  }

  can(event: E): boolean {
    return this.#table[this.#state][event] !== undefined
  }

  /** Moves to the next state, or throws ERR_INVALID_TRANSITION and stays where it was. */
  apply(event: E): S {
    const next = this.#table[this.#state][event]
    if (next === undefined) {
      throw new HarnessError('ERR_INVALID_TRANSITION', `${this.#owner}: no transition from ${this.#state} on ${event}`)
    }
    this.#state = next
    return next
  }
}
