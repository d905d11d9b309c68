/** A promise with its resolvers, for gates that one side opens and another awaits. */
export interface Deferred<T> {
  readonly promise: Promise<T>
  readonly settled: boolean
  resolve(value: T): void
  reject(reason: unknown): void
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (reason: unknown) => void
  let settled = false
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  // A gate nobody awaits must not become an unhandled rejection.
  promise.catch(() => undefined)
  return {
    promise,
    get settled() {
      return settled
    },
    resolve(value) {
      if (!settled) {
        settled = true
        resolve(value)
      }
    },
    reject(reason) {
      if (!settled) {
        settled = true
        reject(reason)
      }
    },
  }
}
