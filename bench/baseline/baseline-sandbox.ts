// The baseline of every figure: the same processes (interpreter, scripts, environment, cwd),
// started, driven and stopped directly against a TrivialServer, in the order the harness uses
// (externals, their /register, the runtime, the first polls; INVOKE then the event; SIGTERM the
// runtime, then SHUTDOWN). Whatever the harness takes beyond this is its own cost.
import { randomBytes, randomUUID } from 'node:crypto'
import path from 'node:path'
import { extensionEnvironment, runtimeEnvironment } from '../../harness/config/environment.js'
import { RUNTIME_PROFILES, DEFAULT_RUNTIME } from '../../harness/config/profiles.js'
import { PACKAGE_ROOT, PYTHON_BOOTSTRAP, PYTHON_RUNTIME_DIR } from '../../harness/paths.js'
import { DirectProcess } from './direct-process.js'
import { TrivialServer } from './trivial-server.js'

export const BARE_RUNTIME = path.join(PACKAGE_ROOT, 'bench', 'baseline', 'bare-runtime.py')
/** bare-runtime.py's loop on the socket, without http.client: the invoke suite's floor. */
export const SOCKET_RUNTIME = path.join(PACKAGE_ROOT, 'bench', 'baseline', 'bare-runtime-socket.py')
export const BARE_EXTENSION = path.join(PACKAGE_ROOT, 'bench', 'baseline', 'bare-extension.py')

export interface BaselineSpec {
  readonly python: string
  readonly functionDir: string
  readonly handler: string
  /** `client`: our bootstrap.py, as the harness runs it; `bare`: bare-runtime.py; `socket`: bare-runtime-socket.py. */
  readonly runtime: 'client' | 'bare' | 'socket'
  /** External extensions: executable files, run as the harness runs them. */
  readonly extensions: readonly string[]
}

/** What each runtime kind runs, after the interpreter. */
const RUNTIME_ARGS: Record<BaselineSpec['runtime'], (handler: string) => string[]> = {
  client: (handler) => [PYTHON_BOOTSTRAP, handler],
  bare: () => [BARE_RUNTIME],
  socket: () => [SOCKET_RUNTIME],
}

/**
 * The runtime's environment as the harness gives it, for a server at `runtimeApi`: in plain mode
 * (the host's paths), or `inside` a sandbox (/var/task, /var/runtime, /opt's parts).
 */
export function directEnvironment(spec: Pick<BaselineSpec, 'handler' | 'functionDir'>, runtimeApi: string, inside = false): Record<string, string> {
  const layerDirs = (part: string) => (inside ? [`/opt/${part}`] : [])
  return runtimeEnvironment({
    runtimeApi,
    handler: spec.handler,
    taskRoot: inside ? '/var/task' : spec.functionDir,
    runtimeDir: inside ? '/var/runtime' : PYTHON_RUNTIME_DIR,
    profile: RUNTIME_PROFILES[DEFAULT_RUNTIME],
    functionName: 'harness-function',
    memoryMB: 128,
    region: 'us-east-1',
    customer: {},
    platform: {},
    layerBinDirs: layerDirs('bin'),
    layerLibDirs: layerDirs('lib'),
    layerPythonDirs: layerDirs('python'),
    hostPath: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
  })
}

const ACCOUNT_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:harness-function'

/** `wait`, or an error once one of `processes` exits first or 30 s pass: a runtime that died before polling hung the bench. */
function untilOrExit<T>(wait: Promise<T>, processes: DirectProcess[], what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`baseline: no ${what} within 30 s`)), 30_000).unref()
    wait.then(resolve, reject).finally(() => clearTimeout(timer))
    for (const process of processes) {
      void process.exited.then(() => reject(new Error(`baseline: pid ${process.pid} exited before ${what}`)))
    }
  })
}

export class BaselineSandbox {
  readonly #server: TrivialServer
  readonly #runtime: DirectProcess
  readonly #extensions: DirectProcess[]

  private constructor(server: TrivialServer, runtime: DirectProcess, extensions: DirectProcess[]) {
    this.#server = server
    this.#runtime = runtime
    this.#extensions = extensions
  }

  get pids(): number[] {
    return [this.#runtime.pid, ...this.#extensions.map((p) => p.pid)]
  }

  /** Server up, externals started and registered, runtime started, every first poll in. */
  static async boot(spec: BaselineSpec): Promise<BaselineSandbox> {
    const server = await TrivialServer.start()
    const env = directEnvironment(spec, server.address)
    const extensionEnv = extensionEnvironment(env)
    const extensions: DirectProcess[] = []
    let runtime: DirectProcess | undefined
    try {
      for (const file of spec.extensions) {
        extensions.push(
          await DirectProcess.start({ file, args: [], cwd: spec.functionDir, env: extensionEnv }),
        )
      }
      await untilOrExit(server.registered(spec.extensions.length), extensions, 'registering')
      runtime = await DirectProcess.start({
        file: spec.python,
        args: RUNTIME_ARGS[spec.runtime](spec.handler),
        cwd: spec.functionDir,
        env,
      })
      await untilOrExit(server.ready(), [runtime, ...extensions], 'its first poll')
      return new BaselineSandbox(server, runtime, extensions)
    } catch (error) {
      await Promise.all([...extensions, ...(runtime === undefined ? [] : [runtime])].map((p) => p.kill()))
      await server.close()
      throw error
    }
  }

  /** One invoke with `{}` as the event, resolved when the runtime and extensions polled again. */
  invoke(): Promise<void> {
    const traceId = `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')};Parent=${randomBytes(8).toString('hex')};Sampled=0`
    return this.#server.invoke(randomUUID(), Buffer.from('{}'), Date.now() + 3000, ACCOUNT_ARN, traceId)
  }

  get responses(): number {
    return this.#server.responses
  }

  /**
   * Lambda's order, done directly: with no extension SIGKILL the runtime; otherwise SIGTERM it and
   * wait for the reap, then SHUTDOWN to the extensions and wait for theirs; then close the server.
   */
  async shutdown(): Promise<void> {
    if (this.#extensions.length === 0) {
      this.#runtime.signal('SIGKILL')
      await this.#runtime.exited
    } else {
      this.#runtime.signal('SIGTERM')
      await this.#runtime.exited
      this.#server.shutdownExtensions(Date.now() + 2000)
      await Promise.all(this.#extensions.map((p) => p.exited))
    }
    await this.#server.close()
  }

  /** SIGKILL whatever is left, wait for every reap, close the server. */
  async dispose(): Promise<void> {
    await Promise.all([this.#runtime, ...this.#extensions].map((p) => p.kill()))
    await this.#server.close()
  }
}
