// How the runtime process starts, per runtime family: our Python client (through Lambda's wrapper
// script logic when AWS_LAMBDA_EXEC_WRAPPER is set, LAMBDA-SPEC §10.1), an OS-only runtime's
// `bootstrap` (§10.2), or the user's own command.
import path from 'node:path'
import type { ParsedOptions, RuntimeClient } from '../config/options.js'
import { findBootstrap, hostPathOf, TASK_ROOT } from '../config/runtime-files.js'
import type { SpawnSpec } from '../supervisor/supervisor.js'
import type { PythonInfo } from './python-info.js'
import { IMAGE_BOOTSTRAP } from './image.js'

/** Our copy of the logic of Lambda's /var/runtime/bootstrap for Python: it checks and execs the wrapper. */
const WRAPPER_LAUNCHER = 'bootstrap'

export interface RuntimeSpecInput {
  readonly options: ParsedOptions
  /** Lambda's paths (bwrap) or the host's (plain processes). */
  readonly isolated: boolean
  readonly taskRoot: string
  readonly runtimeDir: string
  /** Our bootstrap.py as the runtime sees it. */
  readonly pythonBootstrap: string
  readonly python: PythonInfo | undefined
  readonly env: Record<string, string>
}

/** The runtime's command, as the record shows it (before the sandbox exists). */
export function runtimeCommandOf(options: ParsedOptions, pythonBootstrap: string): string[] {
  if (options.runtimeClient === 'image') {
    return [IMAGE_BOOTSTRAP]
  }
  if (options.runtimeCommand !== undefined) {
    return [...options.runtimeCommand]
  }
  if (options.profile.family === 'os-only') {
    return [findBootstrap(options.functionDir, options.layers)?.lambdaPath ?? `${TASK_ROOT}/bootstrap`]
  }
  const wrapper = options.env.AWS_LAMBDA_EXEC_WRAPPER
  const client = clientArgs(options.runtimeClient, pythonBootstrap)
  return wrapper === undefined || wrapper === '' ? [options.python, ...client, options.handler] : [wrapper, options.python, ...wrapped(client, options)]
}

/**
 * The interpreter's arguments before the handler: our client's file, or awslambdaric run as a
 * module from /var/task, as its README's container entry point does (`python -m awslambdaric <handler>`).
 */
function clientArgs(client: RuntimeClient, bootstrap: string): string[] {
  return client === 'awslambdaric' ? ['-m', 'awslambdaric'] : [bootstrap]
}

/** Under a wrapper our bootstrap.py takes the handler from _HANDLER, as Lambda's does; `-m awslambdaric` needs it as its argument. */
function wrapped(client: string[], options: ParsedOptions): string[] {
  return options.runtimeClient === 'awslambdaric' ? [...client, options.handler] : client
}

export function runtimeSpec(input: RuntimeSpecInput): SpawnSpec {
  const { options, taskRoot, env } = input
  const base = { name: 'runtime', kind: 'runtime' as const, cwd: taskRoot }
  if (options.runtimeClient === 'image') {
    // The image's own runtime (Lambda's bootstrap in AWS's base images) takes _HANDLER from the environment.
    return { ...base, file: IMAGE_BOOTSTRAP, args: [], env }
  }
  if (options.runtimeCommand !== undefined) {
    const [file = '', ...args] = options.runtimeCommand
    return { ...base, file, args, env }
  }
  if (options.profile.family === 'os-only') {
    // AWS_LAMBDA_EXEC_WRAPPER is not supported here (runtimes-modify.html): it is only a variable.
    const found = findBootstrap(options.functionDir, options.layers)
    const file = found === undefined ? path.join(taskRoot, 'bootstrap') : input.isolated ? found.lambdaPath : found.hostPath
    return { ...base, file, args: [], env }
  }
  const gil = input.python?.freeThreaded === true ? ['-X', 'gil=1'] : []
  const interpreter = input.python?.executable || options.python
  const wrapper = env.AWS_LAMBDA_EXEC_WRAPPER
  const client = clientArgs(options.runtimeClient, input.pythonBootstrap)
  if (wrapper === undefined || wrapper === '') {
    return { ...base, file: interpreter, args: [...gil, ...client, options.handler], env }
  }
  // Lambda's bootstrap runs `<wrapper> <python> /var/runtime/bootstrap.py` (the handler comes from
  // _HANDLER). Without the sandbox a wrapper named by its /opt or /var/task path is the layer's or
  // the function's own file.
  const hostWrapper = input.isolated ? undefined : hostPathOf(wrapper, options.functionDir, options.layers)
  return {
    ...base,
    file: path.join(input.runtimeDir, WRAPPER_LAUNCHER),
    args: [interpreter, ...gil, ...wrapped(client, options)],
    env: hostWrapper === undefined ? env : { ...env, AWS_LAMBDA_EXEC_WRAPPER: hostWrapper },
  }
}
