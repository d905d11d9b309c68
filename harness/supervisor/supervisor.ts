// Real processes, each the leader of its own process group (RIE local_supervisor.go: Setpgid,
// signals to -pgid), with stdout/stderr turned into lines and exits turned into promises.
import { spawn, type ChildProcess } from 'node:child_process'
import { EventEmitter } from 'node:events'
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
  /** Start through this launcher, or have this host start it (in a sandbox), instead of directly. */
  readonly launcher?: Launcher | ProcessHost
}

/**
 * Starts a spec through another program that reports the real process: its host pid, that
 * process leading its own group (signals go there, never to the launcher), or why it did not
 * start; then how it ended (`ended`, undefined if the launcher went without saying). The launcher
 * may outlive the process (plain mode: it holds the daemons the process forked); a SIGTERM to it
 * ends it and everything left under it.
 */
export interface Launcher {
  /** What to run on the host instead of the spec; it gets one more pipe, fd 3, for its report. */
  command(spec: SpawnSpec): { readonly file: string; readonly args: readonly string[]; readonly cwd: string }
  started(control: NodeJS.ReadableStream): Promise<{ readonly pid: number; readonly ended: Promise<LaunchedExit | undefined> } | LaunchFailure>
}

/**
 * Starts a spec itself, with no process of ours on the host: a bwrap sandbox's holder forks it
 * inside the sandbox (hold.c). It hands back the process's host pid (leader of its own group),
 * its output, and how it ended (a host that is gone reports its processes SIGKILLed: they died
 * with the sandbox).
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

export function isProcessHost(launcher: Launcher | ProcessHost): launcher is ProcessHost {
  return 'launch' in launcher
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
   * of its lines: output and the launcher's report come on separate pipes, and one poll of the
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
  /** The process (with a launcher: once reported), leader of the group we signal. */
  #pid: number | undefined
  #launcherPid: number | undefined
  #launcherRunning = false
  /** Lines that came before the start was known; undefined once it was (see onStarted). */
  #heldLines: [OutputStream, string][] | undefined = []

  constructor(spec: SpawnSpec, hooks: SupervisorHooks) {
    this.name = spec.name
    this.kind = spec.kind
    const { launcher } = spec
    if (launcher !== undefined && isProcessHost(launcher)) {
      const hosted = this.#hosted(launcher, spec, hooks)
      this.launched = hosted.launched
      this.exited = hosted.exited
      this.outputEnded = hosted.outputEnded
      return
    }
    const command = launcher?.command(spec) ?? spec
    const child = start(command, spec.env, launcher !== undefined)
    this.#pid = launcher === undefined ? child.pid : undefined
    this.#launcherPid = launcher === undefined ? undefined : child.pid
    let reported: Promise<LaunchedExit | undefined> | undefined
    this.launched = new Promise((resolve) => {
      child.once('error', (error: NodeJS.ErrnoException) => {
        this.#releaseLines(hooks)
        resolve({ code: error.code ?? 'UNKNOWN', message: error.message, cause: error })
      })
      const control = child.stdio[3]
      if (launcher === undefined || control === null || control === undefined) {
        child.once('spawn', () => {
          this.#announce(hooks)
          resolve(undefined)
        })
        return
      }
      void launcher.started(control as NodeJS.ReadableStream).then((started) => {
        if ('pid' in started) {
          this.#pid = started.pid
          reported = started.ended
          trackGroup(started.pid)
          // From here the launcher ends by itself once it has nothing left to hold, or when told
          // (destroy) or when the harness dies (PR_SET_PDEATHSIG), killing the daemons it adopted
          // first: a SIGKILL from the exit hook would leave those daemons to init.
          if (this.#launcherPid !== undefined) {
            untrackGroup(this.#launcherPid)
          }
          this.#announce(hooks)
          resolve(undefined)
        } else {
          this.#releaseLines(hooks)
          resolve(started)
        }
      })
    })
    if (child.pid !== undefined) {
      trackGroup(child.pid)
    }
    if (launcher !== undefined && child.pid !== undefined) {
      this.#launcherRunning = true
      child.once('exit', () => (this.#launcherRunning = false))
    }
    this.exited = new Promise((resolve) => {
      const settle = (code: number | null, signal: NodeJS.Signals | null) => resolve(this.#settle(code, signal, hooks))
      if (launcher === undefined) {
        child.once('exit', settle)
      } else {
        // The launcher's report of the process's end is its exit (the launcher may stay on, holding
        // daemons); its own exit stands in only if it went without one. After the start report,
        // so a failed start is known first.
        child.once('exit', (code, signal) =>
          void this.launched.then(async () => {
            const ended = await reported
            settle(ended?.code ?? code, ended === undefined ? signal : ended.signal)
          }),
        )
        void this.launched.then(() => reported?.then((ended) => ended !== undefined && settle(ended.code, ended.signal)))
      }
      // A process that never started has no 'exit'; report it as exit 127 like a shell would.
      child.once('error', () => settle(this.pid === undefined ? 127 : null, null))
    })
    const ends: Promise<void>[] = []
    for (const stream of ['stdout', 'stderr'] as const) {
      const readable = child[stream]
      if (readable !== null) {
        ends.push(this.#watchOutput(readable, stream, hooks))
      }
    }
    this.outputEnded = Promise.all(ends).then(() => undefined)
  }

  /** The same three promises for a process a host starts: nothing of ours runs on the host. */
  #hosted(host: ProcessHost, spec: SpawnSpec, hooks: SupervisorHooks): Pick<SupervisedProcess, 'launched' | 'exited' | 'outputEnded'> {
    const started = host.launch(spec)
    const launched = started.then((process) => {
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
    const exited = started.then(async (process) => {
      const ended = 'pid' in process ? await process.ended : { code: 127, signal: null }
      return this.#settle(ended.code, ended.signal, hooks)
    })
    const outputEnded = started.then(async (process) => {
      if ('pid' in process) {
        await Promise.all([this.#watchOutput(process.stdout, 'stdout', hooks), this.#watchOutput(process.stderr, 'stderr', hooks)])
      }
    })
    return { launched, exited, outputEnded }
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

  /**
   * The launcher's host pid while it runs after its process ended: in plain mode it holds the
   * daemons the process forked (its descendants) until `endLauncher()` or the harness's death.
   */
  get holdingLauncher(): number | undefined {
    return this.#launcherRunning && this.#exit !== undefined ? this.#launcherPid : undefined
  }

  /** Tells a launcher still holding daemons that the sandbox is over: it SIGKILLs what it holds and ends. */
  endLauncher(): void {
    if (this.holdingLauncher !== undefined) {
      try {
        process.kill(this.holdingLauncher, 'SIGTERM')
      } catch {
        // Already gone.
      }
    }
  }

  /** SIGKILLs whatever is left of the group and forgets it; the final step of dispose(). */
  destroy(): void {
    if (this.pid !== undefined) {
      this.signal('SIGKILL')
      untrackGroup(this.pid)
    }
    if (this.#launcherPid !== undefined) {
      // Only while it runs (once it has exited its group id may belong to someone else), and only
      // if it never reported its process: one that did ends by itself, see `launched`.
      if (this.#launcherRunning && this.#pid === undefined) {
        try {
          process.kill(-this.#launcherPid, 'SIGKILL')
        } catch {
          // Already gone.
        }
      }
      untrackGroup(this.#launcherPid)
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

/**
 * node:child_process directly (execa cost ~9 ms more to the 'spawn' event and ~2.4 ms more CPU per
 * process, and ~200 ms of import). A spawn that throws (a NUL byte in an argument or the
 * environment) becomes an 'error' event like any other launch failure, so callers see one path.
 */
function start(command: { readonly file: string; readonly args: readonly string[]; readonly cwd: string }, env: Readonly<Record<string, string>>, report: boolean): ChildProcess {
  try {
    return spawn(command.file, [...command.args], {
      cwd: command.cwd,
      env,
      // Own process group, so signals reach the process and everything it forked.
      detached: true,
      // A launcher reports on fd 3.
      stdio: ['ignore', 'pipe', 'pipe', report ? 'pipe' : 'ignore'],
    })
  } catch (error) {
    return unstarted(error as NodeJS.ErrnoException)
  }
}

/** A ChildProcess that never ran: no pid, no pipes, and an 'error' on the next tick. */
function unstarted(error: NodeJS.ErrnoException): ChildProcess {
  const child = new EventEmitter() as ChildProcess
  Object.assign(child, { pid: undefined, stdout: null, stderr: null, stdio: [null, null, null, null] })
  process.nextTick(() => child.emit('error', error))
  return child
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
