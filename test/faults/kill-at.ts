// SIGKILL from outside the harness at an exact point of a run: a SandboxHooks.onTimeline hook that
// watches the timeline as it is written and kills the target the moment every condition was seen
// (an output line a fixture prints when it reaches the phase, an API call), never after a sleep.
import type { RunRecord, SandboxHooks, TimelineEntry } from '../../harness/index.js'

export interface Seen {
  readonly process: string
  readonly kind: TimelineEntry['kind']
  readonly detail: RegExp
}

export interface Kill {
  readonly name: string
  /** Host pid. */
  readonly pid: number
  /** Sandbox clock of the entry that completed the conditions. */
  readonly atMs: number
}

export class KillAt {
  readonly #target: string
  readonly #pending: Seen[]
  readonly #pids = new Map<string, number>()
  #kill: Kill | undefined
  #failure: string | undefined

  /** SIGKILLs `target` (the process, by its host pid) once an entry matching each of `conditions` was recorded. */
  constructor(target: string, conditions: readonly Seen[]) {
    this.#target = target
    this.#pending = [...conditions]
  }

  get hooks(): SandboxHooks {
    return { onTimeline: (entry) => this.#observe(entry) }
  }

  /** What was killed, or a failure naming the conditions never seen. */
  get kill(): Kill {
    if (this.#kill === undefined) {
      const missing = this.#pending.map((c) => `${c.kind} of ${c.process} matching ${c.detail}`).join('; ')
      throw new Error(this.#failure ?? `${this.#target} was never killed: not seen ${missing}`)
    }
    return this.#kill
  }

  #observe(entry: TimelineEntry): void {
    if (entry.kind === 'spawn' && entry.process !== undefined) {
      // Generation.#spawn writes `started <file> (pid <host pid>)` once the process runs.
      const pid = /\(pid (\d+)\)$/.exec(entry.detail)?.[1]
      if (pid !== undefined) {
        this.#pids.set(entry.process, Number(pid))
      }
    }
    if (this.#kill !== undefined || this.#failure !== undefined) {
      return
    }
    const index = this.#pending.findIndex((c) => c.process === entry.process && c.kind === entry.kind && c.detail.test(entry.detail))
    if (index === -1) {
      return
    }
    this.#pending.splice(index, 1)
    if (this.#pending.length > 0) {
      return
    }
    const pid = this.#pids.get(this.#target)
    if (pid === undefined) {
      this.#failure = `no pid known for ${this.#target} when its phase came`
      return
    }
    // Synchronously, inside the harness's own step: nothing else of the run happens in between.
    process.kill(pid, 'SIGKILL')
    this.#kill = { name: this.#target, pid, atMs: entry.atMs }
  }
}

/** The record of the process that was killed (its generation's, by pid). */
export function killedRecord(record: RunRecord, kill: Kill) {
  const found = record.processes.find((p) => p.name === kill.name && p.pid === kill.pid)
  if (found === undefined) {
    throw new Error(`no process ${kill.name} with pid ${kill.pid} in the record`)
  }
  return found
}
