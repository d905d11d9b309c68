// Summary mode's window on the latest rows: what the last `keep` invocations wrote, handed on
// (kept if eventful, else counted as dropped) as newer invocations push them out.

/** The latest rows in summary mode, each tagged with the invocation it belongs to, oldest first. */
export class Tail<T> {
  #tags: number[] = []
  #values: T[] = []
  #head = 0

  push(tag: number, value: T): void {
    this.#tags.push(tag)
    this.#values.push(value)
  }

  /** Removes the rows tagged before `tag` and hands each to `take`, oldest first. */
  takeBefore(tag: number, take: (tag: number, value: T) => void): void {
    while (this.#head < this.#tags.length && this.#tags[this.#head]! < tag) {
      take(this.#tags[this.#head]!, this.#values[this.#head]!)
      this.#head++
    }
    if (this.#head > 1024 && this.#head * 2 > this.#tags.length) {
      this.#tags = this.#tags.slice(this.#head)
      this.#values = this.#values.slice(this.#head)
      this.#head = 0
    }
  }

  values(): T[] {
    return this.#values.slice(this.#head)
  }
}
