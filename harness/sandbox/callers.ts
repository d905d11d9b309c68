// Who made a Runtime API call. Lambda does not authenticate these calls (a proxy extension makes
// them legitimately), so the caller is data for the timeline, not a verdict: the process at the
// other end of the call's connection, found once per connection (the runtime keeps one alive), by
// the client socket's inode (as OwnConnections learned it, else read from /proc/net/tcp of the
// network the connection is in) among the open files of the sandbox's processes.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import type { Socket } from 'node:net'
import { clientRowKey, rowInodeAt } from '../probes/processes.js'
import { descendants } from '../supervisor/process-groups.js'

export interface NamedProcess {
  readonly name: string
  readonly pid: number | undefined
}

/** The name of the process (or a descendant of it) holding the socket `inode`, if any. */
function peerProcess(inode: string | undefined, processes: readonly NamedProcess[]): string | undefined {
  if (inode === undefined) {
    return undefined
  }
  const link = `socket:[${inode}]`
  for (const { name, pid } of processes) {
    if (pid !== undefined && descendants(pid).some((member) => holds(member, link))) {
      return name
    }
  }
  return undefined
}

/** The inode of the client end of a loopback connection our server accepted, read from the socket table now. */
function clientInode(socket: Socket, tcpTable: string): string | undefined {
  const key = clientRowKey(socket)
  if (key === undefined) {
    return undefined
  }
  let table: string
  try {
    table = readFileSync(tcpTable, 'latin1')
  } catch {
    return undefined
  }
  const at = table.indexOf(key)
  if (at === -1) {
    return undefined
  }
  const inode = rowInodeAt(table, at)
  return inode === '0' ? undefined : inode
}

function holds(pid: number, link: string): boolean {
  let fds: string[]
  try {
    fds = readdirSync(`/proc/${pid}/fd`)
  } catch {
    return false
  }
  return fds.some((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === link
    } catch {
      return false
    }
  })
}

/**
 * The caller of each connection's Runtime API calls, looked up at its first call and kept for
 * the connection's life: a keep-alive runtime costs one lookup per generation, not per invoke.
 */
export class RuntimeCallers {
  readonly #bySocket = new WeakMap<Socket, string>()
  /** The socket table of the network the API's connections are in. */
  readonly #tcpTable: () => string
  /** The inode OwnConnections already learned for a connection, if it has. */
  readonly #knownInode: (socket: Socket) => string | undefined

  constructor(tcpTable: () => string, knownInode: (socket: Socket) => string | undefined) {
    this.#tcpTable = tcpTable
    this.#knownInode = knownInode
  }

  callerOf(socket: Socket, processes: () => readonly NamedProcess[]): string {
    let caller = this.#bySocket.get(socket)
    if (caller === undefined) {
      const candidates = processes()
      // Unidentified (the caller exited meanwhile, or is no process of ours): the runtime, as before.
      // So with the runtime alone there is nothing to look up: the socket table is a walk of the
      // host's whole established-connection hash (~4 ms of CPU, synchronous, bench/findings.md).
      const inode = candidates.every((candidate) => candidate.name === 'runtime') ? undefined : (this.#knownInode(socket) ?? clientInode(socket, this.#tcpTable()))
      caller = peerProcess(inode, candidates) ?? 'runtime'
      this.#bySocket.set(socket, caller)
    }
    return caller
  }
}
