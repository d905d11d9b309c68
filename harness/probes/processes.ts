// The process probe: what a process still held when the harness had to SIGKILL it, read from
// /proc (Linux) just before the signal. A killed process's TCP peers see a reset or EOF instead
// of a goodbye, and its buffered writes are lost; this names them.
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from 'node:fs'
import type { Socket } from 'node:net'
import { statFields } from '../supervisor/process-groups.js'

interface TcpConnection {
  readonly local: string
  readonly remote: string
  /** Kernel TCP state name, e.g. ESTABLISHED, CLOSE_WAIT. */
  readonly state: string
}

interface HeldResources {
  readonly pids: number[]
  readonly tcp: TcpConnection[]
  /** Open regular files under the folders that matter (function, layers, temp). */
  readonly files: string[]
}

const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED',
  '02': 'SYN_SENT',
  '03': 'SYN_RECV',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0A': 'LISTEN',
  '0B': 'CLOSING',
}

/** /proc/net/tcp addresses are little-endian hex per 32-bit word. */
function decodeAddress(hex: string): string {
  const [ip = '', port = '0'] = hex.split(':')
  const portNumber = Number.parseInt(port, 16)
  if (ip.length === 8) {
    const bytes = [0, 2, 4, 6].map((i) => Number.parseInt(ip.slice(i, i + 2), 16)).reverse()
    return `${bytes.join('.')}:${portNumber}`
  }
  const words: string[] = []
  for (let w = 0; w < 4; w++) {
    const word = ip.slice(w * 8, w * 8 + 8)
    const le = (word.match(/../g) ?? []).reverse().join('')
    words.push(le.slice(0, 4), le.slice(4))
  }
  const v6 = words.map((part) => part.replace(/^0+(?=.)/, '')).join(':')
  const mapped = /^0:0:0:0:0:ffff:([0-9a-f]+):([0-9a-f]+)$/.exec(v6)
  if (mapped !== null) {
    const n = Number.parseInt(mapped[1]!.padStart(4, '0') + mapped[2]!.padStart(4, '0'), 16)
    return `${[24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.')}:${portNumber}`
  }
  return `[${v6}]:${portNumber}`
}

/**
 * Reads the /proc table at `file` until every inode in `wanted` was seen in its column `column`,
 * calling `found` with each such row's fields and taking the inode out of `wanted`. Only the rows
 * asked for are split and the read stops early: a whole TCP table costs milliseconds at each
 * SIGKILL (bench/findings.md, "Moved from the code (#18)").
 */
function scanTable(file: string, wanted: Set<string>, column: number, found: (fields: string[], inode: string) => void, more?: TableListener): void {
  let fd: number
  try {
    fd = openSync(file, 'r')
  } catch {
    return
  }
  try {
    // The kernel renders a page of whole rows per read; a row cut at a chunk's end is kept for the
    // next one all the same.
    let rest = ''
    // Asked first with no rows: a listener with nothing waiting costs no read.
    let listening = more?.('') ?? false
    while (wanted.size > 0 || listening) {
      const size = readSync(fd, chunk, 0, chunk.length, null)
      if (size <= 0) {
        break
      }
      const text = rest + chunk.toString('latin1', 0, size)
      const complete = text.lastIndexOf('\n') + 1
      rest = text.slice(complete)
      const rows = text.slice(0, complete)
      listening = listening && more!(rows)
      for (const inode of [...wanted]) {
        const fields = rowOf(rows, inode, column)
        if (fields !== undefined) {
          wanted.delete(inode)
          found(fields, inode)
        }
      }
    }
  } catch {
    // Gone while we read it.
  } finally {
    closeSync(fd)
  }
}

const chunk = Buffer.allocUnsafe(64 * 1024)

/** The fields of the row of `text` whose column `column` is `inode`, if there is one. */
function rowOf(text: string, inode: string, column: number): string[] | undefined {
  const needle = ` ${inode}`
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) {
    const after = text.charCodeAt(at + needle.length)
    if (after !== 32 && after !== 10) {
      continue
    }
    const start = text.lastIndexOf('\n', at) + 1
    const end = text.indexOf('\n', at)
    const fields = text.slice(start, end === -1 ? undefined : end).trim().split(/\s+/)
    // The same digits may stand in another column (a uid, a timeout): only the inode column counts.
    if (fields[column] === inode) {
      return fields
    }
  }
  return undefined
}

/**
 * The TCP connections among the socket inodes of process `pid`. Unix sockets (a process's stdout
 * and stderr are socketpairs from Node) are found in the small unix table first, so the TCP tables
 * are read only for what may be TCP, and only as far as needed.
 */
function tcpConnections(pid: number, inodes: readonly string[], tcpListener: TableListener | undefined): Map<string, TcpConnection> {
  const connections = new Map<string, TcpConnection>()
  const wanted = new Set(inodes)
  scanTable(`/proc/${pid}/net/unix`, wanted, 6, () => undefined)
  for (const file of ['tcp', 'tcp6']) {
    // The process's own network namespace view.
    scanTable(
      `/proc/${pid}/net/${file}`,
      wanted,
      9,
      ([, local = '', remote = '', state = ''], inode) => {
        connections.set(inode, { local: decodeAddress(local), remote: decodeAddress(remote), state: TCP_STATES[state] ?? state })
      },
      file === 'tcp' ? tcpListener : undefined,
    )
  }
  return connections
}

/** Given each page of whole rows a read of a socket table returned; true while it wants more. */
export type TableListener = (rows: string) => boolean

/**
 * What the processes hold right now; folders limit which files are worth naming. Sockets in `own`
 * (our API's connections, see OwnConnections) are left out without a look at the socket table.
 */
export function heldResources(pids: readonly number[], folders: readonly string[], own: ReadonlySet<string> = new Set(), tcpListener?: TableListener): HeldResources {
  const tcp: TcpConnection[] = []
  const files = new Set<string>()
  for (const pid of pids) {
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${pid}/fd`)
    } catch {
      continue
    }
    // The fds first (cheap), the socket table only for the sockets they name.
    const sockets: string[] = []
    for (const fd of fds) {
      let target: string
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`)
      } catch {
        continue
      }
      if (target.startsWith('socket:[')) {
        const inode = target.slice(8, -1)
        if (!own.has(inode)) {
          sockets.push(inode)
        }
      } else if (folders.some((folder) => target.startsWith(`${folder}/`))) {
        files.add(target)
      }
    }
    if (sockets.length > 0) {
      // Unix and UDP sockets are in neither table: they are looked for and not found.
      const found = tcpConnections(pid, sockets, tcpListener)
      for (const inode of sockets) {
        const connection = found.get(inode)
        if (connection !== undefined && connection.state !== 'LISTEN') {
          tcp.push(connection)
        }
      }
    }
  }
  return { pids: [...pids], tcp, files: [...files] }
}

/** Clock ticks since the host booted (USER_HZ, which Linux fixes at 100 on every common architecture). */
export function uptimeTicks(): number {
  try {
    return Math.floor(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 100)
  } catch {
    return 0
  }
}

/** Where pid allocation stood at a moment: the last pid given out, and the forks since boot. */
export interface PidMark {
  readonly lastPid: number
  readonly forks: number
}

/** Now's PidMark (/proc/loadavg's last field, /proc/stat's `processes`), or undefined off Linux. */
export function pidMark(): PidMark | undefined {
  try {
    const lastPid = Number(readFileSync('/proc/loadavg', 'latin1').trim().split(' ')[4])
    const forks = Number(/^processes (\d+)$/m.exec(readFileSync('/proc/stat', 'latin1'))?.[1])
    return Number.isInteger(lastPid) && Number.isInteger(forks) ? { lastPid, forks } : undefined
  } catch {
    return undefined
  }
}

/**
 * The pid every process forked after all of the marks is above, or 0 (every pid) when the pid
 * counter may have wrapped since one of them: fewer forks than the pids left above its last pid
 * means it has not. Read after the /proc listing, so the listing holds no wrapped pid either.
 */
function newPidsAbove(marks: readonly (PidMark | undefined)[]): number {
  const now = pidMark()
  let pidMax: number
  try {
    pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'latin1'))
  } catch {
    return 0
  }
  const safe = now !== undefined && marks.every((mark) => mark !== undefined && now.forks - mark.forks < pidMax - mark.lastPid - 1)
  return safe ? Math.min(...marks.map((mark) => mark!.lastPid)) : 0
}

/**
 * Host processes, this one aside, whose environment as they were started holds one of the
 * entries (`KEY=value`, e.g. an AWS_LAMBDA_RUNTIME_API a sandbox gave its processes) and which
 * started at or after that entry's `sinceTicks` (when it was handed out): how plain processes that
 * left their process group (a double-forked daemon) are found, as they keep what they inherited.
 * Zombies have no environment and are not listed. With each entry's PidMark from when it was
 * handed out, only pids given out since are read (not all of the host's: with 50 plain sandboxes
 * ending at once, each read every other one's processes, bench/findings.md, session 8).
 */
export function processesWithEnvironment(entries: readonly { readonly entry: string; readonly sinceTicks: number; readonly mark?: PidMark | undefined }[]): number[] {
  const needles = entries.map(({ entry, sinceTicks }) => ({ bytes: Buffer.from(`\0${entry}\0`), sinceTicks }))
  const earliest = Math.min(...needles.map((needle) => needle.sinceTicks))
  let pids: string[]
  try {
    pids = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)
  } catch {
    return []
  }
  const above = newPidsAbove(entries.map((entry) => entry.mark))
  return pids
    .filter((pid) => Number(pid) > above)
    .filter((pid) => {
      try {
        // Field 22, starttime.
        const started = Number(statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'))[19])
        if (started < earliest) {
          return false
        }
        // A leading NUL, so the first variable matches like the others.
        const environ = Buffer.concat([Buffer.from('\0'), readFileSync(`/proc/${pid}/environ`)])
        return needles.some((needle) => started >= needle.sinceTicks && environ.includes(needle.bytes))
      } catch {
        // Gone meanwhile, or another user's.
        return false
      }
    })
    .map(Number)
}

/** A port as /proc/net/tcp writes it: four hex digits. */
function hexPort(port: number): string {
  return port.toString(16).toUpperCase().padStart(4, '0')
}

/**
 * What the row of the client end of a loopback connection our server accepted holds, space-delimited,
 * in /proc/net/tcp: its address local, ours remote (little-endian hex). Undefined for any other connection.
 */
export function clientRowKey(socket: Socket): string | undefined {
  const { localAddress, localPort, remoteAddress, remotePort } = socket
  if (localAddress !== '127.0.0.1' || remoteAddress !== '127.0.0.1' || localPort === undefined || remotePort === undefined) {
    return undefined
  }
  return ` 0100007F:${hexPort(remotePort)} 0100007F:${hexPort(localPort)} `
}

/** The inode field of the socket-table row that `at` is inside of (a clientRowKey found there). */
export function rowInodeAt(text: string, at: number): string | undefined {
  return text.slice(at, text.indexOf('\n', at)).trim().split(/\s+/)[8]
}
