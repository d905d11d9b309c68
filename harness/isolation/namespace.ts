// One sandbox's namespaces: a bwrap whose command is the holder (hold.c), which holds a PID, mount
// and network namespace for as long as the sandbox lives and starts each runtime and extension
// process inside them on the harness's request (holder.ts).
//
//   harness (node) ── bwrap (host side, dies with the harness: --die-with-parent)
//                     └─ bwrap's pid 1 in the sandbox (or the holder itself, --as-pid-1) ── hold
//                                                   the runtime and each extension (own groups) ─┘
//
// When pid 1 dies the kernel SIGKILLs everything in the PID namespace: a SIGKILLed harness kills
// the host-side bwrap, whose death kills pid 1. /tmp (a tmpfs of this mount namespace) outlives a
// generation's processes and goes with the sandbox.
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { constants } from 'node:os'
import { childrenOf, descendants, innermostPid } from '../supervisor/process-groups.js'
import { SandboxHolder } from './holder.js'
import { SandboxNetwork } from './network.js'

/** How long bwrap may take to build the sandbox before we call it broken. */
const READY_TIMEOUT_MS = 10_000
/** The fd bwrap gets the holder's file on and execs it from (/proc/self/fd/5). */
const HOLDER_FD = 5
/** After SIGKILL to pid 1, how long the host-side bwrap may take to report it. */
const CLOSE_TIMEOUT_MS = 2_000

/**
 * Who the processes are inside, as on Lambda: a user namespace where they run as `uid`/`gid` with
 * no capabilities, a UTS namespace with its own hostname, and Lambda's limits (set by the holder).
 */
export interface SandboxIdentity {
  readonly uid: number
  readonly gid: number
  readonly hostname: string
  readonly nofile: number
  readonly nproc: number
  /** bwrap's --disable-userns (0.8+); default true. */
  readonly disableUserns?: boolean
}

export interface NamespaceSpec {
  readonly bwrap: string
  /** Mount options, from sandboxMountArgs(); fd 4 carries `hostsData`. */
  readonly mountArgs: readonly string[]
  readonly hostsData: string
  /** The compiled holder (hold.c), which starts the processes. */
  readonly holder: string
  /** The holder becomes the sandbox's pid 1 and sets the limits. */
  readonly identity?: SandboxIdentity
}

type BwrapExit = { code: number | null; signal: NodeJS.Signals | null; error?: Error }

/** How the sandbox's holder ended, when it ended before the harness closed the sandbox. */
export interface HolderLoss {
  readonly signal: NodeJS.Signals | undefined
  readonly code: number | undefined
}

export class SandboxNamespace {
  /** Host pid of the namespace's pid 1 (bwrap's reaper); its /proc/<pid>/ns/* are the sandbox's. */
  readonly initPid: number
  readonly host: SandboxHolder
  /** The sandbox's own network: the holder makes its sockets. */
  readonly network: SandboxNetwork
  readonly #bwrap: ChildProcess
  readonly #exited: Promise<unknown>
  /** The holder's pid as the sandbox sees it. */
  readonly #holderPid: number
  #closing: Promise<void> | undefined
  /** Set when the holder ended on its own (not by close()). */
  #lost: HolderLoss | undefined

  private constructor(bwrap: ChildProcess, exited: Promise<BwrapExit>, initPid: number, holderPid: number, host: SandboxHolder) {
    this.#bwrap = bwrap
    this.#exited = exited
    this.initPid = initPid
    this.#holderPid = holderPid
    this.host = host
    this.network = new SandboxNetwork(host, initPid)
    void exited.then(({ code, signal }) => {
      if (this.#closing === undefined) {
        this.#lost = holderLoss(code, signal)
      }
    })
  }

  /** How the holder ended, if it ended before close(): the sandbox is dead, a new one is needed. */
  get lost(): HolderLoss | undefined {
    return this.#lost
  }

  /** Starts bwrap and resolves once the sandbox's mounts are all in place; rejects with bwrap's own words. */
  static async start(spec: NamespaceSpec): Promise<SandboxNamespace> {
    const bwrap = spawnBwrap(spec)
    const exited = new Promise<BwrapExit>((resolve) => {
      bwrap.once('exit', (code, signal) => resolve({ code, signal }))
      bwrap.once('error', (error) => resolve({ code: null, signal: null, error }))
    })
    let stderr = ''
    bwrap.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const hosts = bwrap.stdio[4] as NodeJS.WritableStream | null
    hosts?.on('error', () => undefined)
    hosts?.end(spec.hostsData)
    const infoFd = bwrap.stdio[3] as NodeJS.ReadableStream | null
    const outcome = await Promise.race([readyReport(bwrap, infoFd), exited, timeout(READY_TIMEOUT_MS)])
    const fail = (why: string): never => {
      kill(bwrap.pid, 'SIGKILL')
      const said = stderr.trim().split('\n').filter((line) => line !== '')
      throw new Error(`${why}${said.length > 0 ? `: ${said.join(' / ')}` : ''}`)
    }
    if (outcome === 'timeout') {
      return fail(`bwrap did not set up the sandbox within ${READY_TIMEOUT_MS} ms`)
    }
    if (!('info' in outcome)) {
      const { error } = outcome
      return fail(error !== undefined ? `could not run ${spec.bwrap} (${(error as NodeJS.ErrnoException).code ?? error.message})` : `bwrap exited (${outcome.signal ?? `code ${outcome.code}`})`)
    }
    const initPid = /"child-pid":\s*(\d+)/.exec(outcome.info)?.[1]
    const holderPid = /^ready (\d+)\n/.exec(outcome.ready)?.[1]
    if (initPid === undefined || holderPid === undefined) {
      return fail(`bwrap reported no pids (${JSON.stringify(outcome.info)}, ${JSON.stringify(outcome.ready)})`)
    }
    for (const stream of [bwrap.stdout, bwrap.stderr, infoFd]) {
      stream?.removeAllListeners('data')
    }
    for (const stream of [bwrap.stderr, infoFd]) {
      stream?.resume()
    }
    // The holder is pid 1 itself, or pid 1's only child.
    const holderHostPid = spec.identity !== undefined ? Number(initPid) : childrenOf(Number(initPid))[0]
    if (holderHostPid === undefined || bwrap.stdin === null || bwrap.stdout === null) {
      return fail(`the sandbox's holder is not where bwrap started it (pid 1 is host pid ${initPid})`)
    }
    const host = new SandboxHolder(bwrap.stdin, bwrap.stdout, holderHostPid, undefined, exited, bwrap)
    return new SandboxNamespace(bwrap, exited, Number(initPid), Number(holderPid), host)
  }

  /**
   * Host pids of the processes inside the sandbox, except its own two (bwrap's pid 1 and the
   * holder), skipping zombies: what is left once every runtime and extension process is gone.
   */
  members(): number[] {
    const members: number[] = []
    // Inside a PID namespace every orphan is re-parented to its pid 1, so walking pid 1's
    // descendants finds every member without reading all of the host's /proc.
    for (const pid of descendants(this.initPid)) {
      if (pid === this.initPid) {
        continue
      }
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8')
        const inside = innermostPid(status)
        const state = /^State:\s*(\S)/m.exec(status)?.[1]
        if (inside !== this.#holderPid && state !== 'Z') {
          members.push(pid)
        }
      } catch {
        // Gone while we looked.
      }
    }
    return members
  }

  /** SIGKILLs pid 1, so the kernel kills everything inside; waits (bounded) for bwrap to report it. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.network.close()
      // Once the host-side bwrap has exited, pid 1 is dead too and its pid may be someone else's.
      if (this.#running) {
        kill(this.initPid, 'SIGKILL')
        await Promise.race([this.#exited, timeout(CLOSE_TIMEOUT_MS)])
      }
      if (this.#running) {
        kill(this.#bwrap.pid, 'SIGKILL')
      }
    })()
    return this.#closing
  }

  get #running(): boolean {
    return this.#bwrap.exitCode === null && this.#bwrap.signalCode === null
  }
}

/**
 * bwrap's options for the identity: a user namespace (uid/gid inside, no capabilities, no nested
 * user namespaces), a UTS namespace with the hostname, and the holder as pid 1 (--as-pid-1), so
 * the processes, which share its uid, cannot signal it.
 */
export function identityArgs(identity: SandboxIdentity | undefined): string[] {
  if (identity === undefined) {
    return []
  }
  return [
    '--unshare-user', '--uid', String(identity.uid), '--gid', String(identity.gid),
    ...(identity.disableUserns === false ? [] : ['--disable-userns']),
    '--unshare-uts', '--hostname', identity.hostname,
    '--as-pid-1',
  ]
}

/** bwrap reports its pid 1's death by a signal as 128 + the signal's number (its monitor's exit code). */
function holderLoss(code: number | null, signal: NodeJS.Signals | null): HolderLoss {
  if (signal !== null) {
    return { signal, code: undefined }
  }
  if (code !== null && code > 128) {
    const name = Object.entries(constants.signals).find(([, number]) => number === code - 128)?.[0] as NodeJS.Signals | undefined
    if (name !== undefined) {
      return { signal: name, code: undefined }
    }
  }
  return { signal: undefined, code: code ?? undefined }
}

/**
 * bwrap with the holder as its command. The holder runs from fd 5, not by its path: wherever the
 * harness is installed (under /tmp, /opt or /var/task, which the sandbox replaces with its own),
 * the open file is still there. node:child_process rather than execa: bwrap needs extra fds.
 */
function spawnBwrap(spec: NamespaceSpec): ChildProcess {
  let holderFile: number
  try {
    holderFile = openSync(spec.holder, 'r')
  } catch (error) {
    throw new Error(`cannot open the sandbox's holder ${spec.holder} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
  }
  const { identity } = spec
  const holder = [`/proc/self/fd/${HOLDER_FD}`, ...(identity === undefined ? [] : [String(identity.nofile), String(identity.nproc), ...(process.getuid?.() === 0 ? ['undumpable'] : [])])]
  try {
    // The sandbox's own network namespace: bwrap brings its loopback up.
    const args = [...spec.mountArgs, ...identityArgs(identity), '--unshare-pid', '--unshare-net', '--die-with-parent', '--info-fd', '3', '--', ...holder]
    // stdin: the holder's commands; stdout: "ready <its pid inside>", then its answers; fd 6: the
    // channel the holder hands its sockets over (network.ts).
    return spawn(spec.bwrap, args, { stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe', holderFile, 'ipc'], detached: true })
  } finally {
    // The child has its own copy (or none, if the spawn threw).
    closeSync(holderFile)
  }
}

/**
 * Ready when bwrap has said which pid is the sandbox's pid 1 (fd 3, before it builds the sandbox)
 * and the holder, started last, has said "ready" (every mount is in place).
 */
function readyReport(bwrap: ChildProcess, infoFd: NodeJS.ReadableStream | null): Promise<{ info: string; ready: string }> {
  let info = ''
  let ready = ''
  return new Promise((resolve) => {
    const check = () => (info.includes('}') && ready.includes('\n') ? resolve({ info, ready }) : undefined)
    infoFd?.setEncoding('utf8').on('data', (chunk: string) => {
      info += chunk
      check()
    })
    bwrap.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      ready += chunk
      check()
    })
  })
}

/** Resolves 'timeout' after `ms` without keeping the process alive; nothing to cancel once the race is won (bench/findings.md). */
function timeout(ms: number): Promise<'timeout'> {
  return new Promise((resolve) => setTimeout(resolve, ms, 'timeout').unref())
}

function kill(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) {
    return
  }
  try {
    process.kill(pid, signal)
  } catch {
    // Already gone.
  }
}
