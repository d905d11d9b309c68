// Temp folders named after the process that owns them, `<prefix><pid>-<start>-XXXXXX`, where
// <start> is the owner's start time (clock ticks since boot, /proc/<pid>/stat field 22): a pid
// reused by another process has another start time. A folder left by a SIGKILLed harness (no exit
// hook ran) is then provably orphaned, and the next harness removes it.
import { readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import path from 'node:path'

let ownTag: string | undefined

/** This process's `<pid>-<start>-`, the owner part of its temp folders' names. */
export function ownerTag(): string {
  ownTag ??= `${process.pid}-${startTicks(process.pid) ?? 0}-`
  return ownTag
}

/** A process's start time in clock ticks since boot; undefined when there is no such process. */
function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // After the command name, which may hold spaces and parentheses: field 22 is the 20th after ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

/**
 * Removes the folders `<prefix><pid>-<start>-XXXXXX` in `dir` whose owner is dead (no process
 * `pid`, or one started at another time) and that belong to our user. Returns what it removed.
 * Folders of live owners, of other users, or named otherwise are left alone.
 */
export function sweepOrphanedTempDirs(dir: string, prefix: string): string[] {
  const pattern = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\d+)-(\\d+)-[A-Za-z0-9]{6}$`)
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const removed: string[] = []
  for (const name of names) {
    const match = pattern.exec(name)
    if (match === null || startTicks(Number(match[1])) === match[2]) {
      continue
    }
    const folder = path.join(dir, name)
    try {
      if (statSync(folder).uid !== process.getuid?.()) {
        continue
      }
      rmSync(folder, { recursive: true, force: true })
      removed.push(folder)
    } catch {
      // Removed by another harness meanwhile, or not ours to remove.
    }
  }
  return removed
}
