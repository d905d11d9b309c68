// The harness's own descriptor limit. Every process's connections to the API, its pipes and the
// probes' sockets are the harness's descriptors. Node raises its soft RLIMIT_NOFILE to the hard
// limit at start (node.cc, PlatformInit), so the hard limit is what the harness has.
import { readFileSync } from 'node:fs'

/** Descriptors the harness keeps for itself (pipes, files, the record) below its limit. */
const RESERVE = 8
/** Below this many descriptors in use no limit is near: Node itself needs more to run. */
const FEW = 64

/** The harness's RLIMIT_NOFILE as /proc/self/limits has it ('unlimited' as Infinity); undefined where unreadable. */
export function ownFdLimit(): { soft: number; hard: number } | undefined {
  try {
    const line = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    if (line === null) {
      return undefined
    }
    const value = (field: string) => (field === 'unlimited' ? Infinity : Number(field))
    return { soft: value(line[1]!), hard: value(line[2]!) }
  } catch {
    return undefined
  }
}

/**
 * Whether an accepted connection's descriptor is at the harness's limit. The lowest free number is
 * always taken, so the number is the count in use; past it libuv accepts and closes connections
 * silently (its EMFILE trick), and the process on the other end sees its connection dropped.
 */
export function atFdLimit(fd: number | undefined): boolean {
  if (fd === undefined || fd < FEW) {
    return false
  }
  // Read each time: the limit can change under the harness (prlimit --pid).
  const limit = ownFdLimit()
  return limit !== undefined && fd >= limit.soft - RESERVE
}
