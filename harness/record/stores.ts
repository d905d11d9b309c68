// Where the Recorder keeps the invocations, the timeline and the platform's log lines: compact
// columns (compact.ts) rendered back to the RunRecord's objects on read. In summary mode
// (`record: 'summary'`) each keeps the rows of the first and the last `keep` invocations in full
// and, of the invokes between, only what a verdict needs: every invocation that did not simply
// succeed (and its rows), every signal, exit, spawn, problem and phase other than START/END.
import { float64Column, int32Column, RequestIds, TemplatedText, TextTable, uint16Column } from './compact.js'
import type { InvocationRecord, TimelineEntry } from './run-record.js'

/** The latest rows in summary mode, each tagged with the invocation it belongs to, oldest first. */
class Tail<T> {
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

const PLAIN_KEYS = 'requestId,status,response,contentType,durationMs,startedAtMs'
const PLAIN_KEYS_WITH_ERROR = `${PLAIN_KEYS},errorType`
/** A longer response is stored as it is, without a map entry: few are repeated. */
const INTERNED_RESPONSE_CHARS = 256

export class InvocationStore {
  readonly #requestIds = new RequestIds()
  readonly #texts = new TextTable()
  /** Per row: status text id, or -1 when the row is kept as an object in #objects. */
  readonly #status = int32Column()
  readonly #response = int32Column()
  readonly #contentType = int32Column()
  readonly #errorType = int32Column()
  readonly #durationMs = float64Column()
  readonly #startedAtMs = float64Column()
  readonly #objects = new Map<number, InvocationRecord>()
  /** Summary mode: the row of each invocation kept past the first `keep`. */
  readonly #rowOf = new Map<number, number>()
  readonly #tail = new Tail<InvocationRecord>()
  #live: InvocationRecord | undefined
  count = 0
  dropped = 0

  /** `keep`: summary mode's first and last invocations kept in full; undefined keeps every one. */
  constructor(readonly keep: number | undefined) {}

  /** The invocation in progress (the last one started) and its index. */
  get live(): InvocationRecord | undefined {
    return this.#live
  }

  /** A new invoke started: the previous one ended and is stored. */
  push(record: InvocationRecord): void {
    const previous = this.#live
    if (previous !== undefined) {
      const index = this.count - 1
      if (this.keep === undefined || index < this.keep) {
        this.#store(previous)
      } else {
        this.#tail.push(index, previous)
      }
    }
    this.#live = record
    this.count++
    if (this.keep !== undefined) {
      this.#tail.takeBefore(this.count - this.keep, (index, value) => {
        if (isEventful(value)) {
          this.#rowOf.set(index, this.#requestIds.length)
          this.#store(value)
        } else {
          this.dropped++
        }
      })
    }
  }

  /** Whether invocation `index` is in the record (false for an uneventful one summary mode left out). */
  kept(index: number): boolean {
    return this.keep === undefined || index < this.keep || index >= this.count - this.keep || this.#rowOf.has(index)
  }

  /** The request id a row of invocation `index` may name as a template; undefined when that invocation is left out (or -1). */
  templateIdOf(index: number): string | undefined {
    return index >= 0 && this.kept(index) ? this.requestIdOf(index) : undefined
  }

  requestIdOf(index: number): string {
    if (index === this.count - 1 && this.#live !== undefined) {
      return this.#live.requestId
    }
    const row = this.keep === undefined || index < this.keep ? index : this.#rowOf.get(index)
    if (row !== undefined && row < this.#requestIds.length) {
      return this.#requestIds.get(row)
    }
    // Still in the tail: its rows are the invocations before the live one, in order.
    const tail = this.#tail.values()
    return tail[tail.length - (this.count - 1 - index)]?.requestId ?? ''
  }

  values(): InvocationRecord[] {
    const values: InvocationRecord[] = []
    for (let row = 0; row < this.#requestIds.length; row++) {
      values.push(this.#row(row))
    }
    values.push(...this.#tail.values())
    if (this.#live !== undefined) {
      values.push(this.#live)
    }
    return values
  }

  #store(record: InvocationRecord): void {
    const row = this.#requestIds.length
    this.#requestIds.push(record.requestId)
    const keys = Object.keys(record).join(',')
    if (keys !== PLAIN_KEYS && keys !== PLAIN_KEYS_WITH_ERROR) {
      // Kept as it is (an Init, a reset, an interrupt): rare, so its columns hold placeholders.
      this.#objects.set(row, record)
      this.#status.push(-1)
      this.#response.push(0)
      this.#contentType.push(0)
      this.#errorType.push(0)
      this.#durationMs.push(0)
      this.#startedAtMs.push(0)
      return
    }
    this.#status.push(this.#texts.intern(record.status))
    this.#response.push(record.response.length <= INTERNED_RESPONSE_CHARS ? this.#texts.intern(record.response) : this.#texts.keep(record.response))
    this.#contentType.push(this.#texts.intern(record.contentType))
    this.#errorType.push(record.errorType === undefined ? -1 : this.#texts.intern(record.errorType))
    this.#durationMs.push(record.durationMs)
    this.#startedAtMs.push(record.startedAtMs)
  }

  #row(row: number): InvocationRecord {
    const status = this.#status.get(row)
    if (status < 0) {
      return this.#objects.get(row)!
    }
    const record: InvocationRecord = {
      requestId: this.#requestIds.get(row),
      status: this.#texts.text(status) as InvocationRecord['status'],
      response: this.#texts.text(this.#response.get(row)),
      contentType: this.#texts.text(this.#contentType.get(row)),
      durationMs: this.#durationMs.get(row),
      startedAtMs: this.#startedAtMs.get(row),
    }
    const errorType = this.#errorType.get(row)
    if (errorType >= 0) {
      record.errorType = this.#texts.text(errorType)
    }
    return record
  }
}

/** An invocation a summary keeps whatever its place: anything but a plain success. */
function isEventful(record: InvocationRecord): boolean {
  return record.status !== 'success' || Object.keys(record).join(',') !== PLAIN_KEYS
}

type Kind = TimelineEntry['kind']

/** Whether a summary keeps a timeline entry whatever invoke it belongs to. */
function isEventfulEntry(kind: Kind, detail: string): boolean {
  switch (kind) {
    case 'signal':
    case 'exit':
    case 'spawn':
    case 'problem':
      return true
    case 'phase':
      return !detail.startsWith('START RequestId: ') && !detail.startsWith('END RequestId: ')
    case 'event':
      return detail.startsWith('SHUTDOWN')
    default:
      return false
  }
}

/** Whether a summary keeps a platform log line whatever invoke it belongs to. */
function isEventfulLog(line: string): boolean {
  return !/^(START|END|REPORT) RequestId: /.test(line)
}

/**
 * Rows of text tagged with the invocation in progress when each came (-1 before the first): the
 * timeline and the log lines. `onKept` learns each row that is stored for good, in order.
 */
class TaggedRows<T> {
  readonly #tail = new Tail<T>()
  dropped = 0

  constructor(
    readonly invocations: InvocationStore,
    readonly store: (value: T, tag: number) => void,
    readonly eventful: (value: T) => boolean,
  ) {}

  add(value: T, tag: number): void {
    const keep = this.invocations.keep
    if (keep === undefined || tag < keep) {
      this.store(value, tag)
    } else {
      this.#tail.push(tag, value)
    }
  }

  /** Summary mode, after an invocation started: the rows of invokes no longer among the last are stored or dropped. */
  settle(): void {
    const keep = this.invocations.keep
    if (keep === undefined) {
      return
    }
    this.#tail.takeBefore(this.invocations.count - keep, (tag, value) => {
      if (this.invocations.kept(tag) || this.eventful(value)) {
        this.store(value, tag)
      } else {
        this.dropped++
      }
    })
  }

  tail(): T[] {
    return this.#tail.values()
  }
}

export class TimelineStore {
  readonly #atMs = float64Column()
  /** Index into #who: the kind and the process of the entry. */
  readonly #whoId = uint16Column()
  readonly #who: { kind: Kind; process: string | undefined }[] = []
  readonly #whoIds = new Map<Kind, Map<string | undefined, number>>()
  readonly #detail = new TemplatedText()
  readonly #rows: TaggedRows<TimelineEntry>
  count = 0

  constructor(readonly invocations: InvocationStore) {
    this.#rows = new TaggedRows(invocations, (entry, tag) => this.#store(entry, tag), (entry) => isEventfulEntry(entry.kind, entry.detail))
  }

  get dropped(): number {
    return this.#rows.dropped
  }

  add(atMs: number, kind: Kind, process: string | undefined, detail: string): void {
    this.count++
    const tag = this.invocations.count - 1
    if (this.invocations.keep === undefined) {
      // The hot path of a full record: straight into the columns, no entry object.
      this.#push(atMs, kind, process, detail, tag)
    } else {
      this.#rows.add(process === undefined ? { atMs, kind, detail } : { atMs, kind, process, detail }, tag)
    }
  }

  settle(): void {
    this.#rows.settle()
  }

  entries(): TimelineEntry[] {
    const entries: TimelineEntry[] = []
    const requestIdOf = (invocation: number) => this.invocations.requestIdOf(invocation)
    for (let row = 0; row < this.#atMs.length; row++) {
      const { kind, process } = this.#who[this.#whoId.get(row)]!
      const atMs = this.#atMs.get(row)
      const detail = this.#detail.get(row, requestIdOf)
      entries.push(process === undefined ? { atMs, kind, detail } : { atMs, kind, process, detail })
    }
    entries.push(...this.#rows.tail())
    return entries
  }

  #store(entry: TimelineEntry, tag: number): void {
    this.#push(entry.atMs, entry.kind, entry.process, entry.detail, tag)
  }

  #push(atMs: number, kind: Kind, process: string | undefined, detail: string, tag: number): void {
    let ofKind = this.#whoIds.get(kind)
    if (ofKind === undefined) {
      ofKind = new Map()
      this.#whoIds.set(kind, ofKind)
    }
    let whoId = ofKind.get(process)
    if (whoId === undefined) {
      whoId = this.#who.push({ kind, process }) - 1
      ofKind.set(process, whoId)
    }
    this.#atMs.push(atMs)
    this.#whoId.push(whoId)
    // Output is mostly unique lines: no map entry for them unless they name the invoke.
    this.#detail.push(detail, this.invocations.templateIdOf(tag), tag, kind !== 'output')
  }
}

export class LogStore {
  readonly #lines = new TemplatedText()
  readonly #rows: TaggedRows<string>
  count = 0

  constructor(readonly invocations: InvocationStore) {
    this.#rows = new TaggedRows(invocations, (line, tag) => this.#store(line, tag), isEventfulLog)
  }

  get dropped(): number {
    return this.#rows.dropped
  }

  add(line: string): void {
    this.count++
    this.#rows.add(line, this.invocations.count - 1)
  }

  settle(): void {
    this.#rows.settle()
  }

  lines(): string[] {
    const lines: string[] = []
    const requestIdOf = (invocation: number) => this.invocations.requestIdOf(invocation)
    for (let row = 0; row < this.#lines.length; row++) {
      lines.push(this.#lines.get(row, requestIdOf))
    }
    lines.push(...this.#rows.tail())
    return lines
  }

  #store(line: string, tag: number): void {
    this.#lines.push(line, this.invocations.templateIdOf(tag), tag, true)
  }
}
