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

interface ArgvPaths {
  /** Our bootstrap.py as the runtime sees it. */
  readonly pythonBootstrap: string
  readonly interpreter: string
  readonly gil: readonly string[]
  /** An OS-only runtime's bootstrap as the runtime sees it. */
  readonly bootstrap: string
  readonly wrapper: string | undefined
}

/** The runtime's argv; under a wrapper its first word is the wrapper, which Lambda's bootstrap execs (LAMBDA-SPEC §10.1). */
function runtimeArgv(options: ParsedOptions, at: ArgvPaths): string[] {
  if (options.runtimeClient === 'image') {
    // The image's own runtime (Lambda's bootstrap in AWS's base images) takes _HANDLER from the environment.
    return [IMAGE_BOOTSTRAP]
  }
  if (options.runtimeCommand !== undefined) {
    return [...options.runtimeCommand]
  }
  if (options.profile.family === 'os-only') {
    // AWS_LAMBDA_EXEC_WRAPPER is not supported here (runtimes-modify.html): it is only a variable.
    return [at.bootstrap]
  }
  const client = clientArgs(options.runtimeClient, at.pythonBootstrap)
  if (at.wrapper === undefined || at.wrapper === '') {
    return [at.interpreter, ...at.gil, ...client, options.handler]
  }
  // Under a wrapper our bootstrap.py takes the handler from _HANDLER, as Lambda's does; `-m awslambdaric` needs it as its argument.
  return [at.wrapper, at.interpreter, ...at.gil, ...client, ...(options.runtimeClient === 'awslambdaric' ? [options.handler] : [])]
}

/** The runtime's command, as the record shows it (before the sandbox exists: Lambda's paths). */
export function runtimeCommandOf(options: ParsedOptions, pythonBootstrap: string): string[] {
  const found = options.profile.family === 'os-only' ? findBootstrap(options.functionDir, options.layers) : undefined
  return runtimeArgv(options, {
    pythonBootstrap,
    interpreter: options.python,
    gil: [],
    bootstrap: found?.lambdaPath ?? `${TASK_ROOT}/bootstrap`,
    wrapper: options.env.AWS_LAMBDA_EXEC_WRAPPER,
  })
}

/**
 * The interpreter's arguments before the handler: our client's file, or awslambdaric run as a
 * module from /var/task, as its README's container entry point does (`python -m awslambdaric <handler>`).
 */
function clientArgs(client: RuntimeClient, bootstrap: string): string[] {
  return client === 'awslambdaric' ? ['-m', 'awslambdaric'] : [bootstrap]
}

export function runtimeSpec(input: RuntimeSpecInput): SpawnSpec {
  const { options, taskRoot, env } = input
  const found = options.profile.family === 'os-only' ? findBootstrap(options.functionDir, options.layers) : undefined
  const python = options.runtimeClient !== 'image' && options.runtimeCommand === undefined && options.profile.family === 'python'
  const wrapper = python ? env.AWS_LAMBDA_EXEC_WRAPPER : undefined
  const [file = '', ...args] = runtimeArgv(options, {
    pythonBootstrap: input.pythonBootstrap,
    interpreter: input.python?.executable || options.python,
    gil: input.python?.freeThreaded === true ? ['-X', 'gil=1'] : [],
    bootstrap: found === undefined ? path.join(taskRoot, 'bootstrap') : input.isolated ? found.lambdaPath : found.hostPath,
    wrapper,
  })
  const base = { name: 'runtime', kind: 'runtime' as const, cwd: taskRoot }
  if (wrapper === undefined || wrapper === '') {
    return { ...base, file, args, env }
  }
  // Our copy of Lambda's bootstrap runs `<wrapper> <python> /var/runtime/bootstrap.py`. Without the
  // sandbox a wrapper named by its /opt or /var/task path is the layer's or the function's own file.
  const hostWrapper = input.isolated ? undefined : hostPathOf(wrapper, options.functionDir, options.layers)
  return {
    ...base,
    file: path.join(input.runtimeDir, WRAPPER_LAUNCHER),
    args,
    env: hostWrapper === undefined ? env : { ...env, AWS_LAMBDA_EXEC_WRAPPER: hostWrapper },
  }
}
