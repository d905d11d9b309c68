// The harness's side of a bwrap sandbox's holder (hold.c): it asks the holder, inside the
// sandbox, to start each process, and takes the process's output pipes from the holder's own fd
// table (/proc/<holder>/fd/<n>: opening a pipe there opens that pipe). No process of ours is
// forked on the host per sandbox process: a fork of the Node process blocks its event loop for
// as long as copying its page tables takes, and grows with the user's heap.
import type { ChildProcess } from 'node:child_process'
import { closeSync, constants, openSync, readFileSync } from 'node:fs'
import net from 'node:net'
import type { HostedProcess, LaunchedExit, LaunchFailure, ProcessHost, SpawnSpec } from '../supervisor/supervisor.js'
import { childrenOf, innermostPid } from '../supervisor/process-groups.js'
import { launchedExit } from './launcher.js'

/** A socket as Node's IPC channel hands it over: a TCP handle for net.Server#listen or net.Socket. */
export type SocketHandle = object

type Answer = { readonly kind: 'pid'; readonly inner: number; readonly out: number; readonly err: number } | { readonly kind: 'error'; readonly failure: LaunchFailure }

/**
 * How long the holder may take to answer a start. It answers once the process has exec'd (or
 * failed to), in well under a millisecond; but it lives inside the sandbox, where a process
 * running as root can stop it (kill -STOP -1), and a start must fail then, not hang.
 */
export const LAUNCH_TIMEOUT_MS = 10_000

/** How long a holder's end waits for bwrap to report the sandbox's (it follows at once). */
const ENDED_WAIT_MS = 2_000

/** What a holder that is gone means for a process it held: it died with the sandbox. */
const DIED_WITH_SANDBOX: LaunchedExit = { code: null, signal: 'SIGKILL' }

export class SandboxHolder implements ProcessHost {
  readonly #input: NodeJS.WritableStream
  /** The holder's host pid: its fd table and its children are where the processes are found. */
  readonly #hostPid: number
  readonly #launchTimeoutMs: number
  #nextId = 1
  /** Launches waiting for the holder's answer, by request id. */
  readonly #answers = new Map<number, (answer: Answer) => void>()
  /** Released processes waiting for their end, by request id. */
  readonly #ends = new Map<number, (exit: LaunchedExit) => void>()
  /** Sockets asked for (network.ts), by request id: a handle, or the holder's error. */
  readonly #sockets = new Map<number, (outcome: SocketHandle | Error) => void>()
  /** Connections' inodes asked for, by request id: undefined when the holder found none. */
  readonly #inodes = new Map<number, (inode: string | undefined) => void>()
  #gone = false

  /**
   * `input` and `output` are the holder's stdin and stdout (bwrap's); `hostPid` is the holder's pid
   * on the host. `ended`, when given, settles once the sandbox has ended (bwrap exited): the
   * processes' ends are reported after it, so whoever reads them can already tell why. `channel`,
   * when given, is the child with Node's IPC channel the holder hands its sockets over.
   */
  constructor(
    input: NodeJS.WritableStream,
    output: NodeJS.ReadableStream,
    hostPid: number,
    launchTimeoutMs = LAUNCH_TIMEOUT_MS,
    ended?: Promise<unknown>,
    channel?: ChildProcess,
  ) {
    this.#input = input
    this.#hostPid = hostPid
    this.#launchTimeoutMs = launchTimeoutMs
    channel?.on('message', (message: { id?: unknown } | null, handle: unknown) => this.#socketArrived(message, handle))
    input.on('error', () => undefined)
    let pending = ''
    output.setEncoding('utf8')
    output.on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines) {
        this.#answer(line)
      }
    })
    output.on('error', () => undefined)
    output.once('close', () => {
      if (ended === undefined) {
        this.#close()
      } else {
        void Promise.race([ended, new Promise((resolve) => setTimeout(resolve, ENDED_WAIT_MS).unref())]).then(() => this.#close())
      }
    })
  }

  async launch(spec: SpawnSpec): Promise<HostedProcess | LaunchFailure> {
    if (this.#gone) {
      return gone()
    }
    const id = this.#nextId++
    const answered = new Promise<Answer>((resolve) => this.#answers.set(id, resolve))
    const payload = Buffer.from(
      [spec.cwd, spec.file, String(spec.args.length + 1), spec.file, ...spec.args, ...Object.entries(spec.env).map(([key, value]) => `${key}=${value}`)]
        .map((field) => `${field}\0`)
        .join(''),
    )
    this.#input.write(`spawn ${id} ${payload.length}\n`)
    this.#input.write(payload)
    const timer = setTimeout(
      () => this.#settleAnswer(id, { kind: 'error', failure: { code: 'ETIMEDOUT', message: `the sandbox's holder did not start ${spec.file} within ${this.#launchTimeoutMs} ms`, cause: undefined } }),
      this.#launchTimeoutMs,
    )
    const answer = await answered
    clearTimeout(timer)
    if (answer.kind === 'error') {
      return answer.failure
    }
    // Unreleased, the process is not reaped: it is still in the holder's children, a zombie at worst.
    const pid = this.#hostPidOf(answer.inner)
    const outOfFds: { code?: string } = {}
    const stdout = this.#takePipe(answer.out, outOfFds)
    const stderr = this.#takePipe(answer.err, outOfFds)
    const ended = new Promise<LaunchedExit>((resolve) => this.#ends.set(id, resolve))
    this.#input.write(`release ${id}\n`)
    if (pid === undefined || stdout === undefined || stderr === undefined) {
      for (const stream of [stdout, stderr]) {
        stream?.destroy()
      }
      if (outOfFds.code !== undefined) {
        // The harness's own descriptors ran out: a harness fault, not the process's.
        killGroup(pid)
        return { code: outOfFds.code, message: `the harness could not open ${spec.file}'s output pipes (${outOfFds.code}: too many open files in the harness)`, cause: answer }
      }
      return { code: 'UNKNOWN', message: `the sandbox's holder started ${spec.file} (pid ${answer.inner} inside) where the harness cannot find it`, cause: answer }
    }
    if (this.#gone) {
      this.#ends.get(id)?.(DIED_WITH_SANDBOX)
    }
    return { pid, stdout, stderr, ended }
  }

  /**
   * A TCP socket made inside the sandbox's network namespace: listening on 127.0.0.1:`port` there,
   * or unconnected (`port` undefined). Rejects with the holder's own words.
   */
  socket(port?: number): Promise<SocketHandle> {
    if (this.#gone) {
      return Promise.reject(new Error(gone().message))
    }
    const id = this.#nextId++
    return new Promise<SocketHandle>((resolve, reject) => {
      const timer = setTimeout(() => this.#settleSocket(id, new Error(`the sandbox's holder gave no socket within ${this.#launchTimeoutMs} ms`)), this.#launchTimeoutMs)
      this.#sockets.set(id, (outcome) => {
        clearTimeout(timer)
        return outcome instanceof Error ? reject(outcome) : resolve(outcome)
      })
      this.#input.write(port === undefined ? `socket ${id}\n` : `listen ${id} ${port}\n`)
    })
  }

  /**
   * The socket inode of the connection from 127.0.0.1:`localPort` to 127.0.0.1:`remotePort` inside
   * the sandbox's network (the holder asks sock_diag); undefined when there is none, or no holder.
   */
  inode(localPort: number, remotePort: number): Promise<string | undefined> {
    if (this.#gone) {
      return Promise.resolve(undefined)
    }
    const id = this.#nextId++
    return new Promise((resolve) => {
      this.#inodes.set(id, resolve)
      this.#input.write(`inode ${id} ${localPort} ${remotePort}\n`)
    })
  }

  #settleInode(id: number, inode: string | undefined): void {
    this.#inodes.get(id)?.(inode)
    this.#inodes.delete(id)
  }

  #socketArrived(message: { id?: unknown } | null, handle: unknown): void {
    const id = typeof message?.id === 'number' ? message.id : undefined
    if (id === undefined || handle === undefined || handle === null || !this.#sockets.has(id)) {
      // Asked for by a request that gave up: nobody will close it otherwise.
      ;(handle as { close?: () => void } | undefined)?.close?.()
      return
    }
    this.#settleSocket(id, handle as SocketHandle)
  }

  #settleSocket(id: number, outcome: SocketHandle | Error): void {
    this.#sockets.get(id)?.(outcome)
    this.#sockets.delete(id)
  }

  #answer(line: string): void {
    const started = /^pid (\d+) (\d+) (\d+) (\d+)$/.exec(line)
    if (started !== null) {
      const id = Number(started[1])
      const inner = Number(started[2])
      if (!this.#answers.has(id)) {
        // Started after its launch gave up waiting: nobody reads it, so it must not run on.
        killGroup(this.#hostPidOf(inner))
        this.#input.write(`release ${id}\n`)
        return
      }
      this.#settleAnswer(id, { kind: 'pid', inner, out: Number(started[3]), err: Number(started[4]) })
      return
    }
    const inode = /^inode (\d+) (\d+)$/.exec(line)
    if (inode !== null) {
      this.#settleInode(Number(inode[1]), inode[2] === '0' ? undefined : inode[2])
      return
    }
    const error = /^error (\d+) (\S+) (.*)$/.exec(line)
    if (error !== null && this.#inodes.has(Number(error[1]))) {
      this.#settleInode(Number(error[1]), undefined)
      return
    }
    if (error !== null && this.#sockets.has(Number(error[1]))) {
      this.#settleSocket(Number(error[1]), Object.assign(new Error(error[3]!), { code: error[2]! }))
      return
    }
    if (error !== null) {
      this.#settleAnswer(Number(error[1]), { kind: 'error', failure: { code: error[2]!, message: error[3]!, cause: line } })
      return
    }
    const exit = /^exit (\d+) (code|signal) (\d+)$/.exec(line)
    if (exit !== null) {
      const id = Number(exit[1])
      this.#ends.get(id)?.(launchedExit(exit[2] as 'code' | 'signal', Number(exit[3])))
      this.#ends.delete(id)
    }
  }

  #settleAnswer(id: number, answer: Answer): void {
    this.#answers.get(id)?.(answer)
    this.#answers.delete(id)
  }

  /** The holder is gone (the sandbox ended): what waits for it learns now. */
  #close(): void {
    this.#gone = true
    for (const resolve of this.#answers.values()) {
      resolve({ kind: 'error', failure: gone() })
    }
    this.#answers.clear()
    for (const resolve of this.#ends.values()) {
      resolve(DIED_WITH_SANDBOX)
    }
    this.#ends.clear()
    for (const settle of this.#sockets.values()) {
      settle(new Error(gone().message))
    }
    this.#sockets.clear()
    for (const settle of this.#inodes.values()) {
      settle(undefined)
    }
    this.#inodes.clear()
  }

  /** The host pid of the holder's child that is `inner` inside the sandbox (NSpid's last field). */
  #hostPidOf(inner: number): number | undefined {
    return childrenOf(this.#hostPid).find((child) => {
      try {
        return innermostPid(readFileSync(`/proc/${child}/status`, 'utf8')) === inner
      } catch {
        return false // Gone meanwhile: not one the holder still holds.
      }
    })
  }

  /** Our own reading end of a pipe the holder holds; the holder closes its end at release. */
  #takePipe(fd: number, failure: { code?: string }): net.Socket | undefined {
    let own: number
    try {
      own = openSync(`/proc/${this.#hostPid}/fd/${fd}`, constants.O_RDONLY | constants.O_NONBLOCK)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EMFILE' || code === 'ENFILE') {
        failure.code = code
      }
      return undefined
    }
    try {
      return new net.Socket({ fd: own, readable: true, writable: false })
    } catch {
      closeSync(own)
      return undefined
    }
  }
}

function killGroup(pid: number | undefined): void {
  if (pid !== undefined) {
    try {
      process.kill(-pid, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }
}

function gone(): LaunchFailure {
  return { code: 'UNKNOWN', message: "the sandbox's holder is gone (the sandbox ended)", cause: undefined }
}
