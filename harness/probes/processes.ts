// The process probe: what a process still held when the harness had to SIGKILL it, read from
// /proc (Linux) just before the signal. A killed process's TCP peers see a reset or EOF instead
// of a goodbye, and its buffered writes are lost; this names them.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

export interface TcpConnection {
  readonly local: string
  readonly remote: string
  /** Kernel TCP state name, e.g. ESTABLISHED, CLOSE_WAIT. */
  readonly state: string
}

export interface HeldResources {
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

function socketTable(pid: number): Map<string, TcpConnection> {
  const table = new Map<string, TcpConnection>()
  for (const file of ['tcp', 'tcp6']) {
    let text: string
    try {
      // The process's own network namespace view.
      text = readFileSync(`/proc/${pid}/net/${file}`, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      if (fields.length < 10) {
        continue
      }
      const [, local = '', remote = '', state = ''] = fields
      table.set(fields[9]!, { local: decodeAddress(local), remote: decodeAddress(remote), state: TCP_STATES[state] ?? state })
    }
  }
  return table
}

/** What the processes hold right now; folders limit which files are worth naming. */
export function heldResources(pids: readonly number[], folders: readonly string[]): HeldResources {
  const tcp: TcpConnection[] = []
  const files = new Set<string>()
  for (const pid of pids) {
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${pid}/fd`)
    } catch {
      continue
    }
    let sockets: Map<string, TcpConnection> | undefined
    for (const fd of fds) {
      let target: string
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`)
      } catch {
        continue
      }
      const socket = /^socket:\[(\d+)\]$/.exec(target)
      if (socket !== null) {
        sockets ??= socketTable(pid)
        const connection = sockets.get(socket[1]!)
        if (connection !== undefined && connection.state !== 'LISTEN') {
          tcp.push(connection)
        }
      } else if (folders.some((folder) => target.startsWith(`${folder}/`))) {
        files.add(target)
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

/**
 * Host processes, this one aside, started at or after `sinceTicks` whose environment as they were
 * started holds one of `entries` (`KEY=value`, e.g. the AWS_LAMBDA_RUNTIME_API a sandbox gave its
 * processes): how plain processes that left their process group (a double-forked daemon) are
 * found, as they keep what they inherited. Zombies have no environment and are not listed.
 */
export function processesWithEnvironment(entries: readonly string[], sinceTicks: number): number[] {
  const needles = entries.map((entry) => Buffer.from(`\0${entry}\0`))
  let pids: string[]
  try {
    pids = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)
  } catch {
    return []
  }
  return pids
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
        // Field 22, starttime; counted after the command, which is in parentheses.
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]) < sinceTicks) {
          return false
        }
        // A leading NUL, so the first variable matches like the others.
        const environ = Buffer.concat([Buffer.from('\0'), readFileSync(`/proc/${pid}/environ`)])
        return needles.some((needle) => environ.includes(needle))
      } catch {
        // Gone meanwhile, or another user's.
        return false
      }
    })
    .map(Number)
}
