// The namespace's floor: the least it takes to start the same processes in the same sandbox. A bare
// bwrap with the harness's own command line for the same configuration (every mount, the user, UTS,
// PID and network namespaces, read off a harness sandbox's bwrap in /proc), the harness's holder
// as its pid 1 (something must start the processes inside and make the API's socket in the
// sandbox's network: a static C program is the cheapest such thing), and the trivial server
// listening on that socket. The processes are started in the harness's order, with no record,
// no output read (it waits in the pipes) and no supervision; whatever the harness's isolated boot
// takes beyond this is its own cost, not the namespace's.
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { extensionEnvironment, SANDBOX_API_PORT } from '../../harness/config/environment.js'
import type { Sandbox } from '../../harness/index.js'
import { HOLDER_BINARY } from '../../harness/isolation/launcher.js'
import { hostsFile } from '../../harness/isolation/mounts.js'
import { PYTHON_BOOTSTRAP } from '../../harness/paths.js'
import { childrenOf, innermostPid } from '../../harness/supervisor/process-groups.js'
import { directEnvironment, type BaselineSpec } from './baseline-sandbox.js'
import { TrivialServer } from './trivial-server.js'

const TASK_ROOT = '/var/task'
const RUNTIME_DIR = '/var/runtime'

function parentOf(pid: number): number {
  const ppid = /^PPid:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  if (ppid === undefined) {
    throw new Error(`bwrap floor: no parent for pid ${pid}`)
  }
  return Number(ppid)
}

/**
 * The bwrap command line of a live harness sandbox (runtime → holder → host-side bwrap), or
 * undefined when the sandbox is not a bwrap one. Its fds (3 info, 4 /etc/hosts, 5 the holder,
 * the IPC channel after them) are the ones BwrapFloor gives it.
 */
export function bwrapCommandOf(sandbox: Sandbox): string[] | undefined {
  if (!sandbox.record.timeline.some((entry) => entry.kind === 'phase' && entry.detail.startsWith('Sandbox: bwrap'))) {
    return undefined
  }
  const runtime = sandbox.record.processes.find((p) => p.kind === 'runtime')
  if (runtime?.pid === undefined || runtime.pid === null) {
    throw new Error('bwrap floor: the harness sandbox has no runtime pid')
  }
  const argv = readFileSync(`/proc/${parentOf(parentOf(runtime.pid))}/cmdline`, 'utf8').split('\0')
  argv.pop()
  if (!argv.includes('--as-pid-1') || !argv.includes('--unshare-net') || !argv.includes('--')) {
    throw new Error(`bwrap floor: unexpected harness bwrap command: ${argv.join(' ')}`)
  }
  return argv
}

export class BwrapFloor {
  readonly #bwrap: ChildProcess
  readonly #exited: Promise<void>
  readonly #initPid: number
  #server: TrivialServer | undefined
  #lines: Lines | undefined
  /** The runtime's request id and its pid inside the sandbox. */
  #runtime: { id: number; inner: number } | undefined
  #extensions = 0
  #disposing: Promise<void> | undefined

  private constructor(bwrap: ChildProcess, exited: Promise<void>, initPid: number) {
    this.#bwrap = bwrap
    this.#exited = exited
    this.#initPid = initPid
  }

  /** The host-side bwrap's group and the sandbox's pid 1: when both are gone, so is everything inside. */
  get pids(): number[] {
    return [this.#bwrap.pid ?? 0, this.#initPid].filter((pid) => pid > 0)
  }

  /** bwrap up with its holder, the server on 127.0.0.1:9001 inside, externals registered, the runtime started, every first poll in. */
  static async boot(command: readonly string[], spec: BaselineSpec): Promise<BwrapFloor> {
    const holderFile = openSync(HOLDER_BINARY, 'r')
    let bwrap: ChildProcess
    try {
      bwrap = spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe', holderFile, 'ipc'], detached: true })
    } finally {
      closeSync(holderFile)
    }
    const exited = new Promise<void>((resolve) => bwrap.once('exit', () => resolve()))
    bwrap.stderr?.resume()
    const hosts = bwrap.stdio[4] as NodeJS.WritableStream
    hosts.end(hostsFile(readFileSync('/etc/hosts', 'utf8')))
    const lines = new Lines(bwrap.stdout!)
    let info = ''
    const infoRead = new Promise<string>((resolve) => {
      ;(bwrap.stdio[3] as NodeJS.ReadableStream).setEncoding('utf8').on('data', (chunk: string) => {
        info += chunk
        if (info.includes('}')) {
          resolve(info)
        }
      })
    })
    const failed = exited.then(() => {
      throw new Error('bwrap floor: bwrap exited during the boot')
    })
    const [infoText] = await Promise.race([Promise.all([infoRead, lines.next()]), failed])
    const initPid = Number(/"child-pid":\s*(\d+)/.exec(infoText)?.[1])
    const floor = new BwrapFloor(bwrap, exited, initPid)
    try {
      await Promise.race([floor.#start(spec, lines), failed])
      return floor
    } catch (error) {
      await floor.dispose()
      throw error
    }
  }

  async #start(spec: BaselineSpec, lines: Lines): Promise<void> {
    const bwrap = this.#bwrap
    this.#lines = lines
    this.#extensions = spec.extensions.length
    const handle = new Promise<object>((resolve) => bwrap.once('message', (_message, socket: object) => resolve(socket)))
    bwrap.stdin!.write(`listen 1 ${SANDBOX_API_PORT}\n`)
    const server = await TrivialServer.start(await handle)
    this.#server = server
    const env = directEnvironment(spec, `127.0.0.1:${SANDBOX_API_PORT}`, true)
    let id = 1
    const start = async (file: string, args: string[], environment: Record<string, string>) => {
      id++
      const payload = Buffer.from(
        [TASK_ROOT, file, String(args.length + 1), file, ...args, ...Object.entries(environment).map(([key, value]) => `${key}=${value}`)].map((field) => `${field}\0`).join(''),
      )
      bwrap.stdin!.write(`spawn ${id} ${payload.length}\n`)
      bwrap.stdin!.write(payload)
      const answer = await lines.next()
      if (!answer.startsWith(`pid ${id} `)) {
        throw new Error(`bwrap floor: the holder did not start ${file}: ${answer}`)
      }
      return { id, inner: Number(answer.split(' ')[2]) }
    }
    const extensionEnv = extensionEnvironment(env)
    for (const file of spec.extensions) {
      await start(path.posix.join('/opt/extensions', path.basename(file)), [], extensionEnv)
    }
    await server.registered(spec.extensions.length)
    this.#runtime = await start(spec.python, [path.posix.join(RUNTIME_DIR, path.basename(PYTHON_BOOTSTRAP)), spec.handler], env)
    await server.ready()
  }

  /**
   * Runtime only, as the harness shuts such a sandbox down (RAPID: no extension, so SIGKILL): the
   * runtime's host pid found as the harness finds it (the holder's children, NSpid), its group
   * SIGKILLed, its reap awaited (the holder's `exit` line once released); then dispose().
   */
  async shutdown(): Promise<void> {
    const runtime = this.#runtime
    if (runtime === undefined || this.#lines === undefined || this.#extensions > 0) {
      throw new Error('bwrap floor: shutdown() is for a booted sandbox with no extension')
    }
    const host = childrenOf(this.#initPid).find((pid) => {
      try {
        return innermostPid(readFileSync(`/proc/${pid}/status`, 'utf8')) === runtime.inner
      } catch {
        return false
      }
    })
    if (host === undefined) {
      throw new Error(`bwrap floor: the runtime (pid ${runtime.inner} inside) is not among the holder's children`)
    }
    process.kill(-host, 'SIGKILL')
    this.#bwrap.stdin!.write(`release ${runtime.id}\n`)
    const ended = await this.#lines.next()
    if (!ended.startsWith(`exit ${runtime.id} `)) {
      throw new Error(`bwrap floor: expected the runtime's exit, the holder said: ${ended}`)
    }
    await this.dispose()
  }

  /** SIGKILL the sandbox's pid 1 (the kernel kills the rest), wait for bwrap, close the server. */
  dispose(): Promise<void> {
    // Once: after bwrap's exit, pid 1's pid may be someone else's.
    this.#disposing ??= (async () => {
      try {
        process.kill(this.#initPid, 'SIGKILL')
      } catch {
        // Gone already.
      }
      await this.#exited
      if (this.#bwrap.connected) {
        this.#bwrap.disconnect()
      }
      await this.#server?.close()
    })()
    return this.#disposing
  }
}

/** The holder's answers, a line at a time. */
class Lines {
  #buffer = ''
  readonly #queue: string[] = []
  #waiting: ((line: string) => void) | undefined

  constructor(stream: NodeJS.ReadableStream) {
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => {
      const parts = (this.#buffer + chunk).split('\n')
      this.#buffer = parts.pop() ?? ''
      for (const line of parts) {
        const waiting = this.#waiting
        this.#waiting = undefined
        if (waiting === undefined) {
          this.#queue.push(line)
        } else {
          waiting(line)
        }
      }
    })
  }

  next(): Promise<string> {
    const line = this.#queue.shift()
    return line === undefined ? new Promise((resolve) => (this.#waiting = resolve)) : Promise.resolve(line)
  }
}
