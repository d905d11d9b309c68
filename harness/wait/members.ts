/**
 * The members of a long-lived owner (a server, a generation's fatal gate, the sandbox's signal)
 * that come and go on every invoke. A linked list, not a Set: see bench/findings.md, Session 4.
 */
interface Node<T> {
  readonly value: T
  prev: Node<T> | undefined
  next: Node<T> | undefined
  linked: boolean
}

export class Members<T> {
  #head: Node<T> | undefined
  #size = 0

  get size(): number {
    return this.#size
  }

  /** Adds `value`; returns how to remove it (a no-op once removed, or after take()). */
  add(value: T): () => void {
    const node: Node<T> = { value, prev: undefined, next: this.#head, linked: true }
    if (this.#head !== undefined) {
      this.#head.prev = node
    }
    this.#head = node
    this.#size++
    return () => this.#unlink(node)
  }

  /** Every member, oldest first, without removing any. */
  values(): T[] {
    const values: T[] = []
    for (let node = this.#head; node !== undefined; node = node.next) {
      values.push(node.value)
    }
    return values.reverse()
  }

  /** Every member, oldest first, removing them all: for a fan-out about to call each. */
  take(): T[] {
    const values = this.values()
    for (let node = this.#head; node !== undefined; node = node.next) {
      node.linked = false
    }
    this.#head = undefined
    this.#size = 0
    return values
  }

  #unlink(node: Node<T>): void {
    if (!node.linked) {
      return
    }
    node.linked = false
    if (node.prev === undefined) {
      this.#head = node.next
    } else {
      node.prev.next = node.next
    }
    if (node.next !== undefined) {
      node.next.prev = node.prev
    }
    node.prev = undefined
    node.next = undefined
    this.#size--
  }
}
