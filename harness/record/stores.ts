// Where the Recorder keeps the invocations, the timeline and the platform's log lines: compact
// columns (compact.ts) rendered back to the RunRecord's objects on read. In summary mode
// (`record: 'summary'`) each keeps the rows of the first and the last `keep` invocations in full
// and, of the invokes between, only what a verdict needs: every invocation that did not simply
// succeed (and its rows), every signal, exit, spawn, problem and phase other than START/END.
import { float64Column, int32Column, RequestIds, TemplatedText, TextTable, uint16Column } from './compact.js'
import type { InvocationRecord, TimelineEntry } from './run-record.js'
import { Tail } from './tail.js'

/** A plain invocation's keys, in order; errorType last and only on a failure. */
const PLAIN_KEYS = ['requestId', 'status', 'response', 'contentType', 'durationMs', 'startedAtMs', 'errorType']
/** plainKeys() of a plain invocation without errorType, and with it. */
const PLAIN = PLAIN_KEYS.length - 1
const PLAIN_WITH_ERROR = PLAIN_KEYS.length

/** How many keys `record` has if they are a plain invocation's, in order, and no other; -1 if not (one walk, no string built per invoke). */
function plainKeys(record: InvocationRecord): number {
  let count = 0
  for (const key in record) {
    if (key !== PLAIN_KEYS[count]) {
      return -1
    }
    count++
  }
  return count
}
/** A longer response is stored as it is, without a map entry: few are repeated. */
const INTERNED_RESPONSE_CHARS = 256

/** The stored invocations' columns, made when the first one is stored. */
class InvocationColumns {
  readonly requestIds = new RequestIds()
  readonly texts = new TextTable()
  /** Per row: status text id, or -1 when the row is kept as an object in #objects. */
  readonly status = int32Column()
  readonly response = int32Column()
  readonly contentType = int32Column()
  readonly errorType = int32Column()
  readonly durationMs = float64Column()
  readonly startedAtMs = float64Column()
}

export class InvocationStore {
  #columns: InvocationColumns | undefined
  /** Made when first needed, as every map and tail here: a sandbox that never invokes stays small. */
  #objects: Map<number, InvocationRecord> | undefined
  /** Summary mode: the row of each invocation kept past the first `keep`. */
  #rowOf: Map<number, number> | undefined
  #tail: Tail<InvocationRecord> | undefined
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
        ;(this.#tail ??= new Tail()).push(index, previous)
      }
    }
    this.#live = record
    this.count++
    if (this.keep !== undefined && this.#tail !== undefined) {
      this.#tail.takeBefore(this.count - this.keep, (index, value) => {
        if (isEventful(value)) {
          ;(this.#rowOf ??= new Map()).set(index, this.#stored)
          this.#store(value)
        } else {
          this.dropped++
        }
      })
    }
  }

  /** Whether invocation `index` is in the record (false for an uneventful one summary mode left out). */
  kept(index: number): boolean {
    return this.keep === undefined || index < this.keep || index >= this.count - this.keep || this.#rowOf?.has(index) === true
  }

  /** The request id a row of invocation `index` may name as a template; undefined when that invocation is left out (or -1). */
  templateIdOf(index: number): string | undefined {
    return index >= 0 && this.kept(index) ? this.requestIdOf(index) : undefined
  }

  requestIdOf(index: number): string {
    if (index === this.count - 1 && this.#live !== undefined) {
      return this.#live.requestId
    }
    const row = this.keep === undefined || index < this.keep ? index : this.#rowOf?.get(index)
    if (row !== undefined && row < this.#stored) {
      return this.#columns!.requestIds.get(row)
    }
    // Still in the tail: its rows are the invocations before the live one, in order.
    const tail = this.#tail?.values() ?? []
    return tail[tail.length - (this.count - 1 - index)]?.requestId ?? ''
  }

  values(): InvocationRecord[] {
    const values: InvocationRecord[] = []
    for (let row = 0; row < this.#stored; row++) {
      values.push(this.#row(row))
    }
    values.push(...(this.#tail?.values() ?? []))
    if (this.#live !== undefined) {
      values.push(this.#live)
    }
    return values
  }

  /** How many invocations are in the columns. */
  get #stored(): number {
    return this.#columns?.requestIds.length ?? 0
  }

  #store(record: InvocationRecord): void {
    const columns = (this.#columns ??= new InvocationColumns())
    const row = columns.requestIds.length
    columns.requestIds.push(record.requestId)
    const keys = plainKeys(record)
    if (keys !== PLAIN && keys !== PLAIN_WITH_ERROR) {
      // Kept as it is (an Init, a reset, an interrupt): rare, so its columns hold placeholders.
      ;(this.#objects ??= new Map()).set(row, record)
      columns.status.push(-1)
      columns.response.push(0)
      columns.contentType.push(0)
      columns.errorType.push(0)
      columns.durationMs.push(0)
      columns.startedAtMs.push(0)
      return
    }
    const { texts } = columns
    columns.status.push(texts.intern(record.status))
    columns.response.push(record.response.length <= INTERNED_RESPONSE_CHARS ? texts.intern(record.response) : texts.keep(record.response))
    columns.contentType.push(texts.intern(record.contentType))
    columns.errorType.push(record.errorType === undefined ? -1 : texts.intern(record.errorType))
    columns.durationMs.push(record.durationMs)
    columns.startedAtMs.push(record.startedAtMs)
  }

  #row(row: number): InvocationRecord {
    const columns = this.#columns!
    const status = columns.status.get(row)
    if (status < 0) {
      return this.#objects!.get(row)!
    }
    const { texts } = columns
    const record: InvocationRecord = {
      requestId: columns.requestIds.get(row),
      status: texts.text(status) as InvocationRecord['status'],
      response: texts.text(columns.response.get(row)),
      contentType: texts.text(columns.contentType.get(row)),
      durationMs: columns.durationMs.get(row),
      startedAtMs: columns.startedAtMs.get(row),
    }
    const errorType = columns.errorType.get(row)
    if (errorType >= 0) {
      record.errorType = texts.text(errorType)
    }
    return record
  }
}

/** An invocation a summary keeps whatever its place: anything but a plain success. */
function isEventful(record: InvocationRecord): boolean {
  return record.status !== 'success' || plainKeys(record) !== PLAIN
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
  #tail: Tail<T> | undefined
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
      ;(this.#tail ??= new Tail()).push(tag, value)
    }
  }

  /** Summary mode, after an invocation started: the rows of invokes no longer among the last are stored or dropped. */
  settle(): void {
    const keep = this.invocations.keep
    if (keep === undefined || this.#tail === undefined) {
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
    return this.#tail?.values() ?? []
  }
}

/** The timeline's columns, made at the first entry of the first invoke. */
class TimelineColumns {
  readonly atMs = float64Column()
  /** Index into `who`: the kind and the process of the entry. */
  readonly whoId = uint16Column()
  /** Every kind and process seen, a few dozen at most: a scan costs less than a map of maps. */
  readonly who: { kind: Kind; process: string | undefined }[] = []
  lastWho = -1
  readonly detail = new TemplatedText()

  whoIdOf(kind: Kind, process: string | undefined): number {
    const last = this.who[this.lastWho]
    if (last !== undefined && last.kind === kind && last.process === process) {
      return this.lastWho
    }
    let whoId = this.who.findIndex((who) => who.kind === kind && who.process === process)
    if (whoId < 0) {
      whoId = this.who.push({ kind, process }) - 1
    }
    this.lastWho = whoId
    return whoId
  }
}

/**
 * What the timeline and the log lines share: the rows before the first invoke kept as they are (a
 * sandbox that never invokes needs no columns), summary mode's routing through TaggedRows, the count.
 */
abstract class TaggedStore<T> {
  protected early: T[] | undefined
  /** Summary mode only. */
  protected readonly rows: TaggedRows<T> | undefined
  count = 0

  constructor(readonly invocations: InvocationStore, eventful: (value: T) => boolean) {
    if (invocations.keep !== undefined) {
      this.rows = new TaggedRows(invocations, (value, tag) => this.#store(value, tag), eventful)
    }
  }

  get dropped(): number {
    return this.rows?.dropped ?? 0
  }

  settle(): void {
    this.rows?.settle()
  }

  protected addRow(value: T): void {
    this.count++
    const tag = this.invocations.count - 1
    if (this.rows === undefined) {
      this.#store(value, tag)
    } else {
      this.rows.add(value, tag)
    }
  }

  /** A row of an invoke (`tag` >= 0), stored for good. */
  protected abstract storeTagged(value: T, tag: number): void

  #store(value: T, tag: number): void {
    if (tag < 0) {
      ;(this.early ??= []).push(value)
    } else {
      this.storeTagged(value, tag)
    }
  }
}

export class TimelineStore extends TaggedStore<TimelineEntry> {
  #columns: TimelineColumns | undefined

  constructor(invocations: InvocationStore) {
    super(invocations, (entry) => isEventfulEntry(entry.kind, entry.detail))
  }

  add(atMs: number, kind: Kind, process: string | undefined, detail: string): void {
    if (this.rows === undefined && this.invocations.count > 0) {
      // The hot path of a full record: straight into the columns, no entry object.
      this.count++
      this.#push(atMs, kind, process, detail, this.invocations.count - 1)
    } else {
      this.addRow(process === undefined ? { atMs, kind, detail } : { atMs, kind, process, detail })
    }
  }

  entries(): TimelineEntry[] {
    const entries: TimelineEntry[] = this.early === undefined ? [] : [...this.early]
    const columns = this.#columns
    if (columns !== undefined) {
      const details = columns.detail.all((invocation) => this.invocations.requestIdOf(invocation))
      for (let row = 0; row < columns.atMs.length; row++) {
        const { kind, process } = columns.who[columns.whoId.get(row)]!
        const atMs = columns.atMs.get(row)
        const detail = details[row]!
        entries.push(process === undefined ? { atMs, kind, detail } : { atMs, kind, process, detail })
      }
    }
    entries.push(...(this.rows?.tail() ?? []))
    return entries
  }

  protected storeTagged(entry: TimelineEntry, tag: number): void {
    this.#push(entry.atMs, entry.kind, entry.process, entry.detail, tag)
  }

  #push(atMs: number, kind: Kind, process: string | undefined, detail: string, tag: number): void {
    const columns = (this.#columns ??= new TimelineColumns())
    columns.atMs.push(atMs)
    columns.whoId.push(columns.whoIdOf(kind, process))
    // Output is mostly unique lines: no map entry for them unless they name the invoke.
    columns.detail.push(detail, this.invocations.templateIdOf(tag), tag, kind !== 'output')
  }
}

export class LogStore extends TaggedStore<string> {
  #lines: TemplatedText | undefined

  constructor(invocations: InvocationStore) {
    super(invocations, isEventfulLog)
  }

  add(line: string): void {
    this.addRow(line)
  }

  lines(): string[] {
    const later = this.#lines?.all((invocation) => this.invocations.requestIdOf(invocation)) ?? []
    // concat, not push(...): the rows may be more than a call's arguments can be.
    return (this.early ?? []).concat(later, this.rows?.tail() ?? [])
  }

  protected storeTagged(line: string, tag: number): void {
    // The platform's lines: REPORT's durations become numbers in a column, not a string each.
    ;(this.#lines ??= new TemplatedText()).push(line, this.invocations.templateIdOf(tag), tag, true, true)
  }
}
