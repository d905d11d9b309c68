// Who made a Runtime API call. Lambda does not authenticate these calls (a proxy extension makes
// them legitimately), so the caller is data for the timeline, not a verdict: the process at the
// other end of the call's connection, found once per connection (the runtime keeps one alive), by
// the client socket's inode (/proc/net/tcp of the network the connection is in: the sandbox's own,
// or the host's in plain mode) among the open files of the sandbox's processes.
//
// `peerProcess` is the one place that maps a connection to a process: where the harness's peer is
// not the process itself (a relay in the sandbox), this is what changes.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import type { Socket } from 'node:net'
import { descendants } from '../supervisor/process-groups.js'

export interface NamedProcess {
  readonly name: string
  readonly pid: number | undefined
}

/** The name of the process (or a descendant of it) holding the client end of `socket`, if any. */
export function peerProcess(socket: Socket, processes: readonly NamedProcess[], tcpTable = '/proc/self/net/tcp'): string | undefined {
  const inode = clientInode(socket, tcpTable)
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

/** The inode of the client end of a loopback connection our server accepted. */
function clientInode(socket: Socket, tcpTable: string): string | undefined {
  const { localAddress, localPort, remoteAddress, remotePort } = socket
  if (localAddress !== '127.0.0.1' || remoteAddress !== '127.0.0.1' || localPort === undefined || remotePort === undefined) {
    return undefined
  }
  // The client's row: its address is local, ours remote (/proc/net/tcp's little-endian hex).
  const pair = ` 0100007F:${hexPort(remotePort)} 0100007F:${hexPort(localPort)} `
  let table: string
  try {
    table = readFileSync(tcpTable, 'latin1')
  } catch {
    return undefined
  }
  const at = table.indexOf(pair)
  if (at === -1) {
    return undefined
  }
  const inode = table.slice(at, table.indexOf('\n', at)).trim().split(/\s+/)[8]
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

function hexPort(port: number): string {
  return port.toString(16).toUpperCase().padStart(4, '0')
}

/**
 * The caller of each connection's Runtime API calls, looked up at its first call and kept for
 * the connection's life: a keep-alive runtime costs one lookup per generation, not per invoke.
 */
export class RuntimeCallers {
  readonly #bySocket = new WeakMap<Socket, string>()
  /** The socket table of the network the API's connections are in. */
  readonly #tcpTable: () => string

  constructor(tcpTable: () => string = () => '/proc/self/net/tcp') {
    this.#tcpTable = tcpTable
  }

  callerOf(socket: Socket, processes: () => readonly NamedProcess[]): string {
    let caller = this.#bySocket.get(socket)
    if (caller === undefined) {
      // Unidentified (the caller exited meanwhile, or is no process of ours): the runtime, as before.
      caller = peerProcess(socket, processes(), this.#tcpTable()) ?? 'runtime'
      this.#bySocket.set(socket, caller)
    }
    return caller
  }
}
