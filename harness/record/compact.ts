// Compact storage for the parts of the RunRecord that grow with every invoke: numbers in typed
// arrays, repeated strings interned once, request ids as 16 bytes. A kept object survives every
// scavenge and is copied by each (bench/findings.md, "Where the p99 goes"); a typed array's bytes
// live outside the JS heap and are never copied by the GC.

/** Elements per chunk: a column grows by one chunk at a time, so at most one chunk is unused. */
const CHUNK = 512
/** The first chunk starts this small and doubles up to CHUNK: a sandbox that never invokes stays small. */
const FIRST_CHUNK = 8

type Chunk = Float64Array | Int32Array | Uint16Array | Uint8Array

/**
 * A growable column of numbers in typed-array chunks; only the first, small one is ever copied.
 * Nothing is allocated before the first push, and the first chunk needs no array around it.
 */
export class NumberColumn<A extends Chunk> {
  #first: A | undefined
  /** The chunks after the first, once there are any. */
  #rest: A[] | undefined
  length = 0

  constructor(readonly make: (size: number) => A) {}

  push(value: number): void {
    const offset = this.length % CHUNK
    let last = this.#rest === undefined ? this.#first : this.#rest[this.#rest.length - 1]
    if (last === undefined) {
      last = this.#first = this.make(FIRST_CHUNK)
    } else if (offset === 0) {
      last = this.make(CHUNK)
      ;(this.#rest ??= []).push(last)
    } else if (offset === last.length) {
      // Only the first chunk is ever smaller than CHUNK.
      const bigger = this.make(last.length * 2)
      bigger.set(last)
      last = this.#first = bigger
    }
    last[offset] = value
    this.length++
  }

  get(index: number): number {
    const chunk = index < CHUNK ? this.#first : this.#rest![Math.floor(index / CHUNK) - 1]
    return chunk![index % CHUNK]!
  }
}

// One function per kind for every column, not a closure per column.
const makeFloat64 = (size: number): Float64Array => new Float64Array(size)
const makeInt32 = (size: number): Int32Array => new Int32Array(size)
const makeUint16 = (size: number): Uint16Array => new Uint16Array(size)
const makeUint8 = (size: number): Uint8Array => new Uint8Array(size)
export const float64Column = (): NumberColumn<Float64Array> => new NumberColumn(makeFloat64)
export const int32Column = (): NumberColumn<Int32Array> => new NumberColumn(makeInt32)
export const uint16Column = (): NumberColumn<Uint16Array> => new NumberColumn(makeUint16)
export const uint8Column = (): NumberColumn<Uint8Array> => new NumberColumn(makeUint8)

/** A table this small is searched, not mapped. */
const SMALL_TABLE = 8

/** Strings kept once: `intern` returns the same id for equal strings, `keep` stores one without looking it up. */
export class TextTable {
  readonly #texts: string[] = []
  #ids: Map<string, number> | undefined

  intern(text: string): number {
    if (this.#ids === undefined) {
      const found = this.#texts.indexOf(text)
      if (found >= 0) {
        return found
      }
      if (this.#texts.length < SMALL_TABLE) {
        return this.#texts.push(text) - 1
      }
      this.#ids = new Map(this.#texts.map((known, id) => [known, id]))
    }
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

/** Stands for the request id inside a stored template. */
const REQUEST_ID_MARK = '\u0000'
/** Stands for a number word with 0 to 3 decimals: the mark's code is 1 + its decimals. */
const NUMBER_MARKS = /[\u0001-\u0004]/g
/** Text holding any mark is stored as it is. */
const ANY_MARK = /[\u0000-\u0004]/
/** A number as a word of its own ("Duration: 1.83 ms", "Memory Size: 128 MB"), written as toFixed writes it. */
const NUMBER_WORD = /(?<= )(?:0|[1-9]\d{0,8})(?:\.\d{1,3})?(?=[ \t]|$)/g
const SCALE = [1, 10, 100, 1000]
/** Templates known by their shape: the few an invoke writes (START, END, REPORT, its event, its response). */
const MAX_SHAPES = 16
/** Number words a shape may hold: REPORT has five. */
const MAX_SHAPE_NUMBERS = 8
/** The longest number word: nine digits, a dot and three decimals. */
const MAX_NUMBER_CHARS = 13

/** A template as its parts: literals[0], marks[0], literals[1], … where a mark is -1 for the request id or a number's decimals. */
interface Shape {
  readonly literals: readonly string[]
  readonly marks: readonly number[]
  /** The literals' length, the request id marks and the number marks: what bounds a matching text's length. */
  readonly fixed: number
  readonly ids: number
  readonly numbers: number
  readonly id: number
}

/**
 * Text that names the current invoke's request id, stored as one template for every invoke
 * ("START RequestId: \0 Version: $LATEST") and the invoke's index: one id instead of a string per invoke.
 * With `numbers`, number words become marks too and their values go to a column, so REPORT lines
 * ("Duration: 1.83 ms") share one template instead of a string per distinct duration.
 */
export class TemplatedText {
  readonly #texts = new TextTable()
  /** Texts with marks, apart from #texts: a text stored as it is may hold a mark's character. Made when first needed, as the columns below. */
  #templates: TextTable | undefined
  /** Per row: the id of its text, or of its template as -1 - id. */
  readonly #text = int32Column()
  /** Pairs (row, invocation): from that row on, a template's request id is that invocation's. */
  #runs: NumberColumn<Int32Array> | undefined
  #runInvocation = -1
  /** The number words' values times 10^decimals, row after row. */
  #numbers: NumberColumn<Int32Array> | undefined
  #shapes: Shape[] | undefined
  /** A matched line's number values, times 10^decimals, until the whole line has matched. */
  readonly #scanned = new Float64Array(MAX_SHAPE_NUMBERS)

  get length(): number {
    return this.#text.length
  }

  push(text: string, requestId: string | undefined, invocation: number, intern: boolean, numbers = false): void {
    const named = requestId !== undefined && requestId !== ''
    // Shapes first: most lines that name the invoke are one of a few, and a shape rules a line out by its length.
    const known = named ? this.#shapeOf(text, requestId) : -1
    if (known >= 0) {
      this.#pushTemplate(known, invocation)
      return
    }
    const templated = named && text.includes(requestId)
    if ((!templated && !numbers) || ANY_MARK.test(text)) {
      this.#text.push(intern ? this.#texts.intern(text) : this.#texts.keep(text))
      return
    }
    // split + join makes a flat string: a template kept never holds on to the line it came from.
    let template = templated ? text.split(requestId).join(REQUEST_ID_MARK) : text
    if (numbers) {
      template = template.replace(NUMBER_WORD, (word) => this.#number(word))
    }
    if (template === text) {
      this.#text.push(this.#texts.intern(text))
      return
    }
    const id = (this.#templates ??= new TextTable()).intern(template)
    if (!templated) {
      this.#text.push(-1 - id)
      return
    }
    this.#learnShape(template, id)
    this.#pushTemplate(id, invocation)
  }

  #pushTemplate(id: number, invocation: number): void {
    if (invocation !== this.#runInvocation) {
      this.#runs ??= int32Column()
      this.#runs.push(this.#text.length)
      this.#runs.push(invocation)
      this.#runInvocation = invocation
    }
    this.#text.push(-1 - id)
  }

  /** The template `text` is with `requestId` in it, found without building it (no garbage per line); -1 if none is known. */
  #shapeOf(text: string, requestId: string): number {
    for (const shape of this.#shapes ?? []) {
      const numbers = this.#match(shape, text, requestId)
      if (numbers >= 0) {
        if (numbers > 0) {
          const column = (this.#numbers ??= int32Column())
          for (let n = 0; n < numbers; n++) {
            column.push(this.#scanned[n]!)
          }
        }
        return shape.id
      }
    }
    return -1
  }

  /**
   * How many number words `text` has if it is `shape` with `requestId` at its marks, their values in #scanned; -1 if it is not.
   * The template need not be the one the slow path would build, only one that renders back to `text`.
   */
  #match({ literals, marks, fixed, ids, numbers: words }: Shape, text: string, requestId: string): number {
    // The length rules most shapes out before a character is compared.
    const least = fixed + ids * requestId.length + words
    if (text.length < least || text.length > least + words * (MAX_NUMBER_CHARS - 1) || (words === 0 && text.length !== least)) {
      return -1
    }
    let at = 0
    let numbers = 0
    for (let part = 0; ; part++) {
      const literal = literals[part]!
      if (!text.startsWith(literal, at)) {
        return -1
      }
      at += literal.length
      if (part === marks.length) {
        return at === text.length ? numbers : -1
      }
      const decimals = marks[part]!
      if (decimals < 0) {
        // slice + ===, not startsWith: measured cheaper here (one compare of two flat strings, no builtin's position checks).
        if (text.slice(at, at + requestId.length) !== requestId) {
          return -1
        }
        at += requestId.length
        continue
      }
      at = this.#scanNumber(text, at, decimals, numbers++)
      if (at < 0) {
        return -1
      }
    }
  }

  /** Reads a number word as NUMBER_WORD has it (no leading zero, exactly `decimals` decimals) into #scanned[slot]; where it ends, or -1. */
  #scanNumber(text: string, at: number, decimals: number, slot: number): number {
    let value = 0
    const start = at
    for (let code = text.charCodeAt(at); code >= 48 && code <= 57; code = text.charCodeAt(++at)) {
      value = value * 10 + (code - 48)
    }
    const digits = at - start
    if (digits === 0 || digits > 9 || (digits > 1 && text.charCodeAt(start) === 48)) {
      return -1
    }
    if (decimals > 0) {
      if (text.charCodeAt(at++) !== 46) {
        return -1
      }
      for (let left = decimals; left > 0; left--, at++) {
        const code = text.charCodeAt(at)
        if (!(code >= 48 && code <= 57)) {
          return -1
        }
        value = value * 10 + (code - 48)
      }
    }
    if (value > 0x7fffffff) {
      return -1
    }
    this.#scanned[slot] = value
    return at
  }

  /** Templates with a request id are known by their parts: the text between the marks, and each mark's kind. */
  #learnShape(template: string, id: number): void {
    const shapes = (this.#shapes ??= [])
    if (shapes.length >= MAX_SHAPES || shapes.some((shape) => shape.id === id)) {
      return
    }
    const literals: string[] = []
    const marks: number[] = []
    let from = 0
    for (let at = 0; at < template.length; at++) {
      const code = template.charCodeAt(at)
      if (code <= 4) {
        literals.push(template.slice(from, at))
        marks.push(code - 1)
        from = at + 1
      }
    }
    literals.push(template.slice(from))
    const numbers = marks.filter((mark) => mark >= 0).length
    if (numbers <= MAX_SHAPE_NUMBERS) {
      const fixed = literals.reduce((sum, literal) => sum + literal.length, 0)
      shapes.push({ literals, marks, fixed, ids: marks.length - numbers, numbers, id })
    }
  }

  /** Every row's text, in order. */
  all(requestIdOf: (invocation: number) => string): string[] {
    const texts: string[] = []
    let number = 0
    let run = 0
    let requestId = ''
    for (let row = 0; row < this.#text.length; row++) {
      const id = this.#text.get(row)
      if (id >= 0) {
        texts.push(this.#texts.text(id))
        continue
      }
      let text = this.#templates!.text(-1 - id)
      const runs = this.#runs
      while (runs !== undefined && run < runs.length && runs.get(run) <= row) {
        requestId = requestIdOf(runs.get(run + 1))
        run += 2
      }
      // A function, so a `$` in a caller's own request id is not read as a replacement pattern.
      text = text.replaceAll(REQUEST_ID_MARK, () => requestId)
      text = text.replace(NUMBER_MARKS, (mark) => {
        const decimals = mark.charCodeAt(0) - 1
        return (this.#numbers!.get(number++) / SCALE[decimals]!).toFixed(decimals)
      })
      texts.push(text)
    }
    return texts
  }

  /** A NUMBER_WORD match as its mark, its value to the column; read as a shape's number is, so both paths keep the same values and bound. */
  #number(word: string): string {
    const dot = word.indexOf('.')
    const decimals = dot < 0 ? 0 : word.length - dot - 1
    if (this.#scanNumber(word, 0, decimals, 0) < 0) {
      return word
    }
    ;(this.#numbers ??= int32Column()).push(this.#scanned[0]!)
    return String.fromCharCode(1 + decimals)
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'))
/** The value of each hex digit by its char code. */
const HEX_VALUE = new Uint8Array(128)
for (let digit = 0; digit < 16; digit++) {
  HEX_VALUE[digit.toString(16).charCodeAt(0)] = digit
}
/** Where the 32 hex digits of a UUID are. */
const UUID_DIGITS = Array.from('xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx', (c, i) => (c === 'x' ? i : -1)).filter((i) => i >= 0)

/** Request ids: a lower-case UUID (ours, randomUUID's) as 16 bytes, anything else as its string. */
export class RequestIds {
  readonly #bytes = uint8Column()
  #other: Map<number, string> | undefined
  length = 0

  push(requestId: string): void {
    const uuid = UUID.test(requestId)
    for (let i = 0; i < 32; i += 2) {
      const high = requestId.charCodeAt(UUID_DIGITS[i]!)
      const low = requestId.charCodeAt(UUID_DIGITS[i + 1]!)
      this.#bytes.push(uuid ? (HEX_VALUE[high]! << 4) | HEX_VALUE[low]! : 0)
    }
    if (!uuid) {
      ;(this.#other ??= new Map()).set(this.length, requestId)
    }
    this.length++
  }

  get(index: number): string {
    const other = this.#other?.get(index)
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
