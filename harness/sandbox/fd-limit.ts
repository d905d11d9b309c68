// The harness's own descriptor limit. Every process's connections to the API, its pipes and the
// probes' sockets are the harness's descriptors: with the soft limit below the hard one, the
// harness runs out long before the machine does. Node has no setrlimit, so util-linux's prlimit
// raises it once per process.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'

let raising: Promise<void> | undefined

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
 * Raises the soft RLIMIT_NOFILE to the hard one, once per process; resolves either way (without
 * prlimit, or off Linux, the limit stays as it was and running out is still reported).
 */
export function raiseOwnFdLimit(): Promise<void> {
  raising ??= new Promise((resolve) => {
    const limit = ownFdLimit()
    if (limit === undefined || limit.soft >= limit.hard) {
      resolve()
      return
    }
    const hard = limit.hard === Infinity ? 'unlimited' : String(limit.hard)
    execFile('prlimit', ['--pid', String(process.pid), `--nofile=${hard}:${hard}`], () => resolve())
  })
  return raising
}
