// Compact storage for the parts of the RunRecord that grow with every invoke: numbers in typed
// arrays, repeated strings interned once, request ids as 16 bytes. A kept object survives every
// scavenge and is copied by each (bench/findings.md, "Where the p99 goes"); a typed array's bytes
// live outside the JS heap and are never copied by the GC.

/** Elements per chunk: a column grows by one chunk at a time, so at most one chunk is unused. */
const CHUNK = 512
/** The first chunk starts this small and doubles up to CHUNK: a sandbox that never invokes stays small. */
const FIRST_CHUNK = 32

/** A growable column of numbers in typed-array chunks; only the first, small one is ever copied. */
export class NumberColumn<A extends Float64Array | Int32Array | Uint16Array | Uint8Array> {
  readonly #chunks: A[] = []
  length = 0

  constructor(readonly make: (size: number) => A) {}

  push(value: number): void {
    const offset = this.length % CHUNK
    const last = this.#chunks[this.#chunks.length - 1]
    if (last === undefined || (offset === 0 && this.length > 0)) {
      this.#chunks.push(this.make(last === undefined ? FIRST_CHUNK : CHUNK))
    } else if (offset === last.length) {
      const bigger = this.make(last.length * 2)
      bigger.set(last)
      this.#chunks[this.#chunks.length - 1] = bigger
    }
    this.#chunks[this.#chunks.length - 1]![offset] = value
    this.length++
  }

  get(index: number): number {
    return this.#chunks[Math.floor(index / CHUNK)]![index % CHUNK]!
  }
}

export const float64Column = (): NumberColumn<Float64Array> => new NumberColumn((size) => new Float64Array(size))
export const int32Column = (): NumberColumn<Int32Array> => new NumberColumn((size) => new Int32Array(size))
export const uint16Column = (): NumberColumn<Uint16Array> => new NumberColumn((size) => new Uint16Array(size))

/** Strings kept once: `intern` returns the same id for equal strings, `keep` stores one without looking it up. */
export class TextTable {
  readonly #texts: string[] = []
  readonly #ids = new Map<string, number>()

  intern(text: string): number {
    let id = this.#ids.get(text)
    if (id === undefined) {
      id = this.#texts.push(text) - 1
      this.#ids.set(text, id)
    }
    return id
  }

  /** For text that rarely repeats (a process's output): no map entry for it. */
  keep(text: string): number {
    return this.#texts.push(text) - 1
  }

  text(id: number): string {
    return this.#texts[id]!
  }
}

/** Stands for the request id inside a stored template; text holding it is stored as it is. */
const REQUEST_ID_MARK = '\u0000'

/**
 * Text that names the current invoke's request id, stored as one template for every invoke
 * ("START RequestId: \0 Version: $LATEST") and the invoke's index: one id instead of a string per invoke.
 */
export class TemplatedText {
  readonly table = new TextTable()
  readonly #text = int32Column()
  /** The invocation whose request id the template stands for; -1 when the text is stored as it is. */
  readonly #invocation = int32Column()

  get length(): number {
    return this.#text.length
  }

  push(text: string, requestId: string | undefined, invocation: number, intern: boolean): void {
    if (requestId !== undefined && text.includes(requestId) && !text.includes(REQUEST_ID_MARK)) {
      this.#text.push(this.table.intern(text.replaceAll(requestId, REQUEST_ID_MARK)))
      this.#invocation.push(invocation)
      return
    }
    this.#text.push(intern ? this.table.intern(text) : this.table.keep(text))
    this.#invocation.push(-1)
  }

  get(index: number, requestIdOf: (invocation: number) => string): string {
    const text = this.table.text(this.#text.get(index))
    const invocation = this.#invocation.get(index)
    if (invocation < 0) {
      return text
    }
    // A function, so a `$` in a caller's own request id is not read as a replacement pattern.
    const requestId = requestIdOf(invocation)
    return text.replaceAll(REQUEST_ID_MARK, () => requestId)
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'))

/** Request ids: a lower-case UUID (ours, randomUUID's) as 16 bytes, anything else as its string. */
export class RequestIds {
  readonly #bytes = new NumberColumn((size) => new Uint8Array(size))
  readonly #other = new Map<number, string>()
  length = 0

  push(requestId: string): void {
    const uuid = UUID.test(requestId)
    const hex = uuid ? requestId.replaceAll('-', '') : ''
    for (let i = 0; i < 16; i++) {
      this.#bytes.push(uuid ? parseInt(hex.slice(i * 2, i * 2 + 2), 16) : 0)
    }
    if (!uuid) {
      this.#other.set(this.length, requestId)
    }
    this.length++
  }

  get(index: number): string {
    const other = this.#other.get(index)
    if (other !== undefined) {
      return other
    }
    let hex = ''
    for (let i = 0; i < 16; i++) {
      hex += HEX[this.#bytes.get(index * 16 + i)]
    }
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
  }
}
