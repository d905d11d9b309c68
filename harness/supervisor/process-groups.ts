// Process groups as /proc sees them (Linux). Elsewhere these answer from kill(-pgid, 0) alone.
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs'

/**
 * The fields of a /proc/<pid>/stat line after the command (which is in parentheses and may itself
 * hold spaces or parentheses): [0] is the state (field 3), [1] the parent, [2] the process group,
 * [19] the start time in clock ticks.
 */
export function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

/** Live (non-zombie) members of the process group `pgid`. */
export function groupMembers(pgid: number): number[] {
  try {
    process.kill(-pgid, 0)
  } catch {
    return []
  }
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return [pgid]
  }
  const members: number[] = []
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) {
      continue
    }
    try {
      const fields = statFields(readFileSync(`/proc/${entry}/stat`, 'utf8'))
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') {
        members.push(Number(entry))
      }
    } catch {
      // The process ended while we looked.
    }
  }
  return members
}

/** Whether the process exists and is not a zombie (one that ended and awaits its parent's wait). */
export function isLive(pid: number): boolean {
  try {
    return statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'))[0] !== 'Z'
  } catch {
    return false
  }
}

/** Whether the process has a handler installed for SIGTERM (bit 15 of SigCgt). */
export function catchesSigterm(pid: number | undefined): boolean | undefined {
  if (pid === undefined) {
    return undefined
  }
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const match = /^SigCgt:\s*([0-9a-f]+)$/m.exec(status)
    return match === null ? undefined : (BigInt(`0x${match[1]}`) & (1n << 14n)) !== 0n
  } catch {
    return undefined
  }
}

/**
 * Peak resident memory (VmHWM) of a process in whole MB, as REPORT's "Max Memory Used", read on
 * every invoke: /proc/<pid>/status is kept open and re-read with one pread (the kernel renders it
 * afresh at offset 0), 13 µs against 47 µs for open, read, read to EOF and close, which was the
 * largest single item of the harness's CPU per invoke (bench/findings.md). The descriptor names
 * that process only: once it is gone a read fails (ESRCH) even if its pid is reused.
 */
export class PeakMemory {
  #fd: number | undefined

  constructor(pid: number | undefined) {
    if (pid !== undefined) {
      try {
        this.#fd = openSync(`/proc/${pid}/status`, 'r')
      } catch {
        // Not Linux, or gone already: no figure.
      }
    }
  }

  /** Undefined when it cannot be read (not Linux, or the process is gone). */
  read(): number | undefined {
    if (this.#fd === undefined) {
      return undefined
    }
    let size: number
    try {
      size = readSync(this.#fd, statusBuffer, 0, statusBuffer.length, 0)
    } catch {
      return undefined
    }
    const at = statusBuffer.indexOf('VmHWM:')
    if (at === -1 || at >= size) {
      return undefined
    }
    const match = /^VmHWM:\s*(\d+) kB$/m.exec(statusBuffer.toString('latin1', at, statusBuffer.indexOf(10, at)))
    return match === null ? undefined : Math.ceil(Number(match[1]) / 1024)
  }

  close(): void {
    if (this.#fd !== undefined) {
      closeSync(this.#fd)
      this.#fd = undefined
    }
  }
}

// /proc/<pid>/status is ~1.5 KB; one buffer serves every read (they are synchronous).
const statusBuffer = Buffer.alloc(8192)

/**
 * The process and its descendants, from /proc/<pid>/task/<tid>/children: cheap enough to run at a
 * deadline, unlike a scan of all of /proc (which groupMembers needs to find re-parented orphans).
 */
export function descendants(pid: number): number[] {
  const found: number[] = []
  const queue = [pid]
  while (queue.length > 0) {
    const current = queue.shift()!
    found.push(current)
    queue.push(...childrenOf(current))
  }
  return found
}

/** The process's children (of every thread of it); none once it is gone. */
export function childrenOf(pid: number): number[] {
  let tasks: string[]
  try {
    tasks = readdirSync(`/proc/${pid}/task`)
  } catch {
    return []
  }
  const children: number[] = []
  for (const task of tasks) {
    try {
      for (const child of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ')) {
        if (child.trim() !== '') {
          children.push(Number(child))
        }
      }
    } catch {
      // Gone meanwhile.
    }
  }
  return children
}

/** The pid a process has in its own (innermost) PID namespace: NSpid's last field in its /proc status. */
export function innermostPid(status: string): number | undefined {
  const pid = /^NSpid:.*\s(\d+)\s*$/m.exec(status)?.[1]
  return pid === undefined ? undefined : Number(pid)
}
