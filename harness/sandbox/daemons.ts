// Who started a daemon that outlived a reset (fork, setsid, fork: it left its process group, so
// the reset's SIGKILL to the group missed it). By then its parent is gone, so its owner is read
// from what it kept: in plain mode the launcher that adopted it (one per process, a subreaper);
// in a bwrap sandbox, where pid 1 adopts every orphan, the environment it inherited (_HANDLER is
// the runtime's alone; PGAPPNAME names a process when a probe gave it one). The generation is
// the last one started before the daemon was.
import { readFileSync } from 'node:fs'
import { statFields } from '../supervisor/process-groups.js'

export interface DaemonOwner {
  /** The process that started it, or `extension` when several extensions could have. */
  readonly process: string
  readonly generation: number
}

export interface OwnerContext {
  /** When each generation started, in clock ticks since boot, in generation order. */
  readonly generationTicks: readonly number[]
  /** The extensions' names (the extension files). */
  readonly extensions: readonly string[]
  /** Plain mode: each launcher still holding daemons, by host pid, and whose it is. */
  readonly launchers: ReadonlyMap<number, string>
}

export function daemonOwner(pid: number, context: OwnerContext): DaemonOwner | undefined {
  const stat = readStat(pid)
  if (stat === undefined) {
    return undefined
  }
  const started = Number(stat[19])
  let generation = 0
  context.generationTicks.forEach((ticks, index) => {
    if (ticks <= started) {
      generation = index
    }
  })
  const process = launcherOwner(stat, context.launchers) ?? environmentOwner(pid, context.extensions)
  return { process, generation }
}

/** The process whose launcher is an ancestor of the daemon (plain mode). */
function launcherOwner(stat: readonly string[], launchers: ReadonlyMap<number, string>): string | undefined {
  let parent = Number(stat[1])
  for (let depth = 0; depth < 64 && parent > 1; depth++) {
    const owner = launchers.get(parent)
    if (owner !== undefined) {
      return owner
    }
    parent = Number(readStat(parent)?.[1] ?? 0)
  }
  return undefined
}

function environmentOwner(pid: number, extensions: readonly string[]): string {
  let environ: string[]
  try {
    environ = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0')
  } catch {
    return 'sandbox'
  }
  if (environ.some((entry) => entry.startsWith('_HANDLER='))) {
    return 'runtime'
  }
  const named = environ.find((entry) => entry.startsWith('PGAPPNAME='))?.slice('PGAPPNAME='.length)
  if (named !== undefined && named !== '') {
    return named
  }
  return extensions.length === 1 ? extensions[0]! : 'extension'
}

function readStat(pid: number): string[] | undefined {
  try {
    return statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return undefined
  }
}
