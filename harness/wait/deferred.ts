/** A promise with its resolvers, for gates that one side opens and another awaits. */
export interface Deferred<T> {
  readonly promise: Promise<T>
  readonly settled: boolean
  resolve(value: T): void
  reject(reason: unknown): void
}

const ignore = (): undefined => undefined

// A class, not a closure per resolver and a getter object: several are made per invoke (bench/findings.md, session 11).
class Gate<T> implements Deferred<T> {
  readonly promise: Promise<T>
  #settled = false
  #resolve!: (value: T) => void
  #reject!: (reason: unknown) => void

  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
  }

  get settled(): boolean {
    return this.#settled
  }

  resolve(value: T): void {
    if (!this.#settled) {
      this.#settled = true
      this.#resolve(value)
    }
  }

  reject(reason: unknown): void {
    if (!this.#settled) {
      this.#settled = true
      // A gate nobody awaits must not become an unhandled rejection.
      this.promise.catch(ignore)
      this.#reject(reason)
    }
  }
}

export function deferred<T>(): Deferred<T> {
  return new Gate<T>()
}
