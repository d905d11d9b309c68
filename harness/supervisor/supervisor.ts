// Real processes, each the leader of its own process group (RIE local_supervisor.go: Setpgid,
// signals to -pgid), with stdout/stderr turned into lines and exits turned into promises.
import { HarnessError } from '../errors.js'
import { trackGroup, untrackGroup } from './exit-hook.js'

export type ProcessKind = 'runtime' | 'extension'
export type OutputStream = 'stdout' | 'stderr'

export interface SpawnSpec {
  readonly name: string
  readonly kind: ProcessKind
  readonly file: string
  readonly args: readonly string[]
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
}

/**
 * Where a sandbox's processes start (RIE's ProcessSupervisor.Exec): a bwrap sandbox's holder
 * (hold.c, holder.ts) or plain mode's launcher (enter.c, plain-host.ts). It hands back the
 * process's host pid (leader of its own group), its output, and how it ended (a host that is gone
 * reports its processes SIGKILLed: they died with the sandbox).
 */
export interface ProcessHost {
  launch(spec: SpawnSpec): Promise<HostedProcess | LaunchFailure>
}

export interface HostedProcess {
  readonly pid: number
  readonly stdout: NodeJS.ReadableStream
  readonly stderr: NodeJS.ReadableStream
  readonly ended: Promise<LaunchedExit>
}

export interface LaunchedExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface ProcessExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** ms on the sandbox clock. */
  readonly atMs: number
}

export interface LaunchFailure {
  /** errno code such as EACCES or ENOENT. */
  readonly code: string
  readonly message: string
  readonly cause: unknown
}

export interface SupervisorHooks {
  now(): number
  /**
   * Once, synchronously, the moment the process is known to run (its pid is known), before any
   * of its lines: output and the host's report come on separate pipes, and one poll of the
   * event loop can hand over a process's first line before the report of its start.
   */
  onStarted?(process: SupervisedProcess): void
  onLine(process: SupervisedProcess, stream: OutputStream, line: string): void
  onExit(process: SupervisedProcess, exit: ProcessExit): void
}

/** One output line is cut here so a process writing without newlines cannot exhaust memory. */
export const MAX_LINE_BYTES = 256 * 1024
/** Output lines kept per process as evidence for errors (testcontainers keeps the last 50). */
const TAIL_LINES = 50
/**
 * How long an exit waits for the rest of the process's output: the exit report and the pipes come
 * separately, and a leftover process of its group can hold the pipes open for ever.
 */
export const MAX_OUTPUT_DRAIN_MS = 100

export class SupervisedProcess {
  readonly name: string
  readonly kind: ProcessKind
  /** Settles once the process has started (undefined) or failed to start (the failure). */
  readonly launched: Promise<LaunchFailure | undefined>
  /** Settles once the exit is final: after the output was read to EOF, or MAX_OUTPUT_DRAIN_MS after the exit. */
  readonly exited: Promise<ProcessExit>
  /** Settles when stdout and stderr have both ended: every line has been reported. */
  readonly outputEnded: Promise<void>
  readonly tail: string[] = []
  #exit: ProcessExit | undefined
  #exiting: Promise<ProcessExit> | undefined
  #frozen = false
  /** The process once its host reported it, leader of the group we signal. */
  #pid: number | undefined
  /** Lines that came before the start was known; undefined once it was (see onStarted). */
  #heldLines: [OutputStream, string][] | undefined = []

  constructor(spec: SpawnSpec, host: ProcessHost, hooks: SupervisorHooks) {
    this.name = spec.name
    this.kind = spec.kind
    const started = host.launch(spec)
    this.launched = started.then((process) => {
      if ('pid' in process) {
        this.#pid = process.pid
        trackGroup(process.pid)
        this.#announce(hooks)
        return undefined
      }
      this.#releaseLines(hooks)
      return process
    })
    // A process that never started is reported as exit 127, as a shell would.
    this.exited = started.then(async (process) => {
      const ended = 'pid' in process ? await process.ended : { code: 127, signal: null }
      return this.#settle(ended.code, ended.signal, hooks)
    })
    this.outputEnded = started.then(async (process) => {
      if ('pid' in process) {
        await Promise.all([this.#watchOutput(process.stdout, 'stdout', hooks), this.#watchOutput(process.stderr, 'stderr', hooks)])
      }
    })
  }

  /**
   * Records the exit once (whichever report comes first) at the time it was reported, and makes it
   * final (tells the hooks) once its last lines are in: the process's output read to EOF, bounded.
   */
  #settle(code: number | null, signal: NodeJS.Signals | null, hooks: SupervisorHooks): Promise<ProcessExit> {
    if (this.#exiting === undefined) {
      const exit = { code, signal, atMs: hooks.now() }
      this.#exiting = drained(this.outputEnded, MAX_OUTPUT_DRAIN_MS).then(() => {
        this.#exit = exit
        hooks.onExit(this, exit)
        return exit
      })
    }
    return this.#exiting
  }

  /** Lines to the hooks and the tail (held until the start is known); settles when the stream has closed. */
  #watchOutput(readable: NodeJS.ReadableStream, stream: OutputStream, hooks: SupervisorHooks): Promise<void> {
    splitLines(readable, (line) => {
      if (this.#heldLines !== undefined) {
        this.#heldLines.push([stream, line])
      } else {
        this.#deliverLine(stream, line, hooks)
      }
    })
    return new Promise((resolve) => readable.once('close', () => resolve()))
  }

  #deliverLine(stream: OutputStream, line: string, hooks: SupervisorHooks): void {
    this.tail.push(line)
    if (this.tail.length > TAIL_LINES) {
      this.tail.shift()
    }
    hooks.onLine(this, stream, line)
  }

  /** The process runs: the hooks hear of it, then of the lines that came first. */
  #announce(hooks: SupervisorHooks): void {
    hooks.onStarted?.(this)
    this.#releaseLines(hooks)
  }

  #releaseLines(hooks: SupervisorHooks): void {
    const held = this.#heldLines ?? []
    this.#heldLines = undefined
    for (const [stream, line] of held) {
      this.#deliverLine(stream, line, hooks)
    }
  }

  get exit(): ProcessExit | undefined {
    return this.#exit
  }

  get pid(): number | undefined {
    return this.#pid
  }

  get alive(): boolean {
    return this.#exit === undefined && this.pid !== undefined
  }

  get frozen(): boolean {
    return this.#frozen
  }

  /** Signals the whole process group; false when the group is already gone. */
  signal(signal: NodeJS.Signals): boolean {
    if (this.pid === undefined) {
      return false
    }
    try {
      process.kill(-this.pid, signal)
      return true
    } catch {
      return false
    }
  }

  /** SIGSTOP the group (Lambda freezes the sandbox between invokes). */
  freeze(): void {
    if (!this.#frozen && this.signal('SIGSTOP')) {
      this.#frozen = true
    }
  }

  thaw(): void {
    if (this.#frozen) {
      this.#frozen = false
      this.signal('SIGCONT')
    }
  }

  /** SIGKILLs whatever is left of the group and forgets it; the final step of dispose(). */
  destroy(): void {
    if (this.pid !== undefined) {
      this.signal('SIGKILL')
      untrackGroup(this.pid)
    }
  }

  /** A process that failed to start, as a HarnessError with its evidence. */
  static launchError(name: string, failure: LaunchFailure): HarnessError {
    return new HarnessError('ERR_SPAWN_FAILED', `could not start ${name}: ${failure.message}`, { cause: failure.cause })
  }
}

/** Settles when `ended` does or `limitMs` has passed, whichever comes first. */
function drained(ended: Promise<void>, limitMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const cap = new Promise<void>((resolve) => (timer = setTimeout(resolve, limitMs)))
  return Promise.race([ended, cap]).finally(() => clearTimeout(timer))
}

/** Calls `onLine` for every line (without its newline); a final unterminated line counts too. */
function splitLines(readable: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let pending = ''
  readable.setEncoding('utf8')
  readable.on('data', (chunk: string) => {
    let text = pending + chunk
    let newline = text.indexOf('\n')
    while (newline !== -1) {
      onLine(text.slice(0, newline))
      text = text.slice(newline + 1)
      newline = text.indexOf('\n')
    }
    // Cut into pieces, none of the text dropped.
    while (text.length > MAX_LINE_BYTES) {
      onLine(text.slice(0, MAX_LINE_BYTES))
      text = text.slice(MAX_LINE_BYTES)
    }
    pending = text
  })
  readable.on('end', () => {
    if (pending !== '') {
      onLine(pending)
      pending = ''
    }
  })
  // A process that dies mid-write can surface EPIPE-like errors on its pipes; they are not ours.
  readable.on('error', () => undefined)
}
