// Our own API's connections, as the client processes see them: their client-side socket inodes,
// learnt as each connection arrives (by the holder's exact lookup, else from the socket table), so
// the kill path leaves them out without reading the table.
import { open, type FileHandle } from 'node:fs/promises'
import type { Socket } from 'node:net'
import { clientRowKey, rowInodeAt, type TableListener } from './processes.js'

/** A connection's client-side inode by its ports, or undefined where there is no such lookup. */
export type InodeLookup = (clientPort: number, serverPort: number) => Promise<string | undefined> | undefined

/**
 * The client-side socket inodes of the connections to our own API, learnt when each connection
 * arrives, so a killed process whose only sockets are these needs no socket table at all (the
 * usual runtime: its one keep-alive connection). A bwrap sandbox's holder looks each one up
 * (sock_diag, network.c); otherwise, or when that fails, one asynchronous read of the socket table,
 * off the main thread, serves every connection (of every sandbox in the process) that arrived
 * before it started. The kill path reads the table itself only for a socket not learnt (yet), and
 * what it reads teaches the connections still waiting (learnFrom).
 */
export class OwnConnections {
  readonly #inodes = new Set<string>()
  readonly #inodeBySocket = new WeakMap<Socket, string>()
  /** The socket table of the network the connections are in (a bwrap sandbox's own, or ours). */
  readonly #table: () => string

  /** An exact lookup of a connection's client inode (a bwrap sandbox's holder), when there is one. */
  readonly #lookup: InodeLookup

  constructor(table: () => string = () => '/proc/self/net/tcp', lookup: InodeLookup = () => undefined) {
    this.#table = table
    this.#lookup = lookup
  }

  /** Inodes of live connections to our API, as the client processes see them. */
  get inodes(): ReadonlySet<string> {
    return this.#inodes
  }

  /** The client-side inode of an accepted connection, once the table was read for it. */
  inodeOf(socket: Socket): string | undefined {
    return this.#inodeBySocket.get(socket)
  }

  /** A connection our loopback server accepted. */
  accepted(socket: Socket): void {
    const key = clientRowKey(socket)
    if (key === undefined) {
      return
    }
    const found = this.#lookup(socket.remotePort!, socket.localPort!)
    if (found !== undefined) {
      // No walk of the table (bench/findings.md, session 8); it stays the fallback.
      void found.then((inode) => (inode === undefined ? this.#wait(socket, key) : this.#learnt(socket, inode)))
      return
    }
    this.#wait(socket, key)
  }

  #wait(socket: Socket, key: string): void {
    tableReader(this.#table()).want(key, (inode) => this.#learnt(socket, inode))
  }

  /**
   * Rows of this network's TCP table that the kill path read anyway: the connections still waiting
   * for a pass (this sandbox's and every other's in the table) are learnt from them. True while some still wait.
   */
  readonly learnFrom: TableListener = (rows) => readers.get(this.#table())?.resolve(rows) ?? false

  #learnt(socket: Socket, inode: string): void {
    if (inode !== '0' && !socket.destroyed) {
      this.#inodes.add(inode)
      this.#inodeBySocket.set(socket, inode)
      socket.once('close', () => this.#inodes.delete(inode))
    }
  }
}

/**
 * One reader per socket table, shared by every sandbox whose connections are in it: plain mode's
 * sandboxes all wait on the host's table, and one pass serves them all instead of one walk each.
 */
class TableReader {
  /** Connections waiting for a read of the table, by their row's key (clientRowKey). */
  #waiting = new Map<string, (inode: string) => void>()
  #reading = false

  constructor(readonly file: string) {}

  want(key: string, found: (inode: string) => void): void {
    this.#waiting.set(key, found)
    if (!this.#reading) {
      void this.#read()
    }
  }

  /** Learns what it can from rows read elsewhere; true while connections still wait. */
  resolve(rows: string): boolean {
    for (const waiting of [this.#waiting, this.#passing]) {
      resolveFrom(rows, rows.length, waiting)
    }
    return this.#waiting.size + this.#passing.size > 0
  }

  /** The connections the pass in progress looks for. */
  #passing = new Map<string, (inode: string) => void>()

  async #read(): Promise<void> {
    this.#reading = true
    const buffer = Buffer.allocUnsafe(64 * 1024)
    while (this.#waiting.size > 0) {
      const waiting = this.#waiting
      this.#passing = waiting
      this.#waiting = new Map()
      let file: FileHandle
      try {
        file = await open(this.file, 'r')
      } catch {
        break
      }
      try {
        // A page of rows per read, stopping once every connection is found: on average half the
        // walk of the established-connection hash. Those that arrive meanwhile wait for the next pass.
        let rest = ''
        while (waiting.size > 0) {
          const { bytesRead } = await file.read(buffer, 0, buffer.length, null)
          if (bytesRead <= 0) {
            break
          }
          const text = rest + buffer.toString('latin1', 0, bytesRead)
          const complete = text.lastIndexOf('\n') + 1
          rest = text.slice(complete)
          resolveFrom(text, complete, waiting)
        }
      } catch {
        // Unreadable: the kill path reads the tables itself.
      } finally {
        await file.close()
      }
    }
    this.#passing = new Map()
    this.#reading = false
    if (this.#waiting.size === 0) {
      // A bwrap sandbox's table is its own: a reader with nothing to wait for is not kept.
      readers.delete(this.file)
    }
  }
}

const readers = new Map<string, TableReader>()

/** Calls back and drops each connection of `waiting` whose row is in `text` before `complete`. */
function resolveFrom(text: string, complete: number, waiting: Map<string, (inode: string) => void>): void {
  for (const [key, found] of waiting) {
    const at = text.indexOf(key)
    if (at === -1 || at >= complete) {
      continue
    }
    waiting.delete(key)
    const inode = rowInodeAt(text, at)
    if (inode !== undefined) {
      found(inode)
    }
  }
}

function tableReader(file: string): TableReader {
  let reader = readers.get(file)
  if (reader === undefined) {
    reader = new TableReader(file)
    readers.set(file, reader)
  }
  return reader
}
