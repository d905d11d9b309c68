// The runtime's environment and command line in the current sandbox (its paths, its API address).
import { runtimeEnvironment } from '../config/environment.js'
import { SINK_URL_PLACEHOLDER } from '../config/options.js'
import type { SpawnSpec } from '../supervisor/supervisor.js'
import type { SandboxContext } from './context.js'
import { jitEnv } from './interpreter.js'
import { runtimeSpec } from './runtime-spec.js'

/** Lambda's PATH before /opt/bin: inside an image the host's PATH means nothing (LAMBDA-SPEC §5). */
const LAMBDA_PATH = '/var/lang/bin:/usr/local/bin:/usr/bin/:/bin'
/** The head of Lambda's LD_LIBRARY_PATH (LAMBDA-SPEC §5): an image's Python in /var/lang needs its libraries. */
const LAMBDA_SYSTEM_LIB_DIRS = ['/var/lang/lib', '/lib64', '/usr/lib64']

export function runtimeEnv(sandbox: SandboxContext): Record<string, string> {
  const { options, sandboxed } = sandbox
  const layerPart = (part: 'bin' | 'lib' | 'python') => sandboxed.layerDirs(part)
  return runtimeEnvironment({
    runtimeApi: sandbox.server.address,
    handler: options.handler,
    taskRoot: sandboxed.taskRoot,
    runtimeDir: sandboxed.runtimeDir,
    profile: options.profile,
    functionName: options.functionName,
    memoryMB: options.memoryMB,
    region: options.region,
    customer: customerEnv(sandbox),
    platform: { ...options.platformEnv, ...jitEnv(sandbox.python) },
    layerBinDirs: layerPart('bin'),
    layerLibDirs: layerPart('lib'),
    layerPythonDirs: layerPart('python'),
    hostPath: options.image === undefined ? (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin') : LAMBDA_PATH,
    ...(options.image === undefined ? {} : { systemLibDirs: LAMBDA_SYSTEM_LIB_DIRS }),
    osOnlyRuntimeDir: options.osOnlyRuntimeDir,
  })
}

/** The function's variables, `{SINK_URL}` in a value replaced by this sandbox's collector (validation required the sink). */
function customerEnv(sandbox: SandboxContext): Readonly<Record<string, string>> {
  const sinkUrl = sandbox.resources?.env('runtime').SINK_URL
  const env = sandbox.options.env
  if (sinkUrl === undefined || !Object.values(env).some((value) => value.includes(SINK_URL_PLACEHOLDER))) {
    return env
  }
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, value.replaceAll(SINK_URL_PLACEHOLDER, sinkUrl)]))
}

export function runtimeSpecIn(sandbox: SandboxContext): SpawnSpec {
  const { sandboxed } = sandbox
  return runtimeSpec({
    options: sandbox.options,
    isolated: sandboxed.mode === 'bwrap',
    taskRoot: sandboxed.taskRoot,
    runtimeDir: sandboxed.runtimeDir,
    pythonBootstrap: sandboxed.bootstrap,
    python: sandbox.python,
    env: { ...runtimeEnv(sandbox), ...sandbox.resources?.env('runtime') },
  })
}
