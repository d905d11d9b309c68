// The environment Lambda gives the runtime and, reduced, the extensions (LAMBDA-SPEC §5).
// Nothing from the host leaks in except PATH and LD_LIBRARY_PATH tails (plain mode needs them to
// find an interpreter) and what the user passes on purpose.
import { randomBytes } from 'node:crypto'
import { HarnessError } from '../errors.js'
import type { RuntimeProfile } from './profiles.js'

/** Keys a customer may override (RAPID's env.overridable). */
const OVERRIDABLE = new Set([
  'LANG',
  'PATH',
  'LD_LIBRARY_PATH',
  'TZ',
  'AWS_LAMBDA_LOG_FORMAT',
  'AWS_LAMBDA_LOG_LEVEL',
  'AWS_XRAY_CONTEXT_MISSING',
  'AWS_XRAY_DAEMON_ADDRESS',
])

/** Keys Lambda reserves; setting one is refused at configuration time. */
const RESERVED = new Set([
  '_HANDLER',
  '_X_AMZN_TRACE_ID',
  'AWS_DEFAULT_REGION',
  'AWS_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_ACCESS_KEY',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API',
  'LAMBDA_TASK_ROOT',
  'LAMBDA_RUNTIME_DIR',
])

/** Variables the docs say extensions do not get; RAPID also drops every key starting with `_`. */
const RUNTIME_ONLY = new Set([
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_XRAY_CONTEXT_MISSING',
  'AWS_XRAY_DAEMON_ADDRESS',
  'LAMBDA_RUNTIME_DIR',
  'LAMBDA_TASK_ROOT',
])

/** Where Lambda's Runtime, Extensions and Telemetry APIs listen inside an execution environment (127.0.0.1); reserved for subscribers (telemetry-api.md). */
export const SANDBOX_API_PORT = 9001

const ENV_KEY = /^[a-zA-Z]([a-zA-Z0-9_])*$/
const MAX_CUSTOMER_ENV_BYTES = 4096

/** Checks the function's own variables as Lambda's configuration API would. */
export function validateCustomerEnv(env: Record<string, string>, warnings: string[]): Record<string, string> {
  if (typeof env !== 'object' || env === null || Array.isArray(env)) {
    throw new HarnessError('ERR_INVALID_OPTION', `option env: expected an object of KEY: value strings, got ${JSON.stringify(env)}`)
  }
  const out: Record<string, string> = {}
  let bytes = 0
  for (const [key, value] of Object.entries(env)) {
    if (typeof value !== 'string') {
      throw new HarnessError('ERR_INVALID_OPTION', `option env: expected a string value for ${key}, got ${JSON.stringify(value)}`)
    }
    if (key.startsWith('_')) {
      warnings.push(`env ${key} dropped: Lambda drops customer variables whose names start with "_"`)
      continue
    }
    if (!ENV_KEY.test(key)) {
      throw new HarnessError('ERR_INVALID_OPTION', `option env: expected a name of letters, digits and "_" starting with a letter, got ${JSON.stringify(key)}`)
    }
    if (RESERVED.has(key) && !OVERRIDABLE.has(key)) {
      throw new HarnessError('ERR_INVALID_OPTION', `option env: ${key} is reserved by Lambda and cannot be set`)
    }
    bytes += Buffer.byteLength(key) + Buffer.byteLength(value)
    out[key] = value
  }
  if (bytes > MAX_CUSTOMER_ENV_BYTES) {
    throw new HarnessError('ERR_INVALID_OPTION', `option env: expected at most ${MAX_CUSTOMER_ENV_BYTES} bytes of variables in all, got ${bytes}`)
  }
  return out
}

interface EnvironmentInput {
  readonly runtimeApi: string
  readonly handler: string
  readonly taskRoot: string
  readonly runtimeDir: string
  readonly profile: RuntimeProfile
  readonly functionName: string
  readonly memoryMB: number
  readonly region: string
  readonly customer: Readonly<Record<string, string>>
  readonly platform: Readonly<Record<string, string>>
  /** Layer parts in Lambda's precedence order (earlier wins). */
  readonly layerBinDirs: readonly string[]
  readonly layerLibDirs: readonly string[]
  readonly layerPythonDirs: readonly string[]
  /** Host PATH, so a plain-mode sandbox can find its interpreter and shell. */
  readonly hostPath: string
  /** OS-only runtimes: set LAMBDA_RUNTIME_DIR too (UNCONFIRMED that provided.* has it; default unset). */
  readonly osOnlyRuntimeDir?: boolean
  /** Library folders before the runtime's on LD_LIBRARY_PATH (an image's: Lambda's /var/lang/lib, /lib64, /usr/lib64). */
  readonly systemLibDirs?: readonly string[]
}

function logStreamName(now: Date): string {
  const day = now.toISOString().slice(0, 10).replaceAll('-', '/')
  return `${day}/[$LATEST]${randomBytes(16).toString('hex')}`
}

/**
 * The runtime's full environment, in the order of a real env dump. An OS-only runtime (provided.*)
 * gets no AWS_EXECUTION_ENV (LAMBDA-SPEC §5) and nothing of Python's (PYTHONPATH).
 */
export function runtimeEnvironment(input: EnvironmentInput, now = new Date()): Record<string, string> {
  const paths = (parts: readonly string[]) => parts.filter((p) => p !== '').join(':')
  const osOnly = input.profile.family === 'os-only'
  const base: Record<string, string | undefined> = {
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_NAME: input.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(input.memoryMB),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${input.functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: logStreamName(now),
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_RUNTIME_API: input.runtimeApi,
    AWS_EXECUTION_ENV: input.profile.executionEnv ?? undefined,
    AWS_REGION: input.region,
    AWS_DEFAULT_REGION: input.region,
    AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
    AWS_XRAY_DAEMON_ADDRESS: '169.254.79.129:2000',
    _AWS_XRAY_DAEMON_ADDRESS: '169.254.79.129',
    _AWS_XRAY_DAEMON_PORT: '2000',
    AWS_LAMBDA_LOG_FORMAT: 'Text',
    _HANDLER: input.handler,
    LAMBDA_TASK_ROOT: input.taskRoot,
    LAMBDA_RUNTIME_DIR: osOnly && input.osOnlyRuntimeDir !== true ? undefined : input.runtimeDir,
    TZ: ':UTC',
    LANG: 'en_US.UTF-8',
    // Lambda's PATH ends in /opt/bin; in plain mode the host's PATH stands in for /var/lang/bin etc.
    PATH: paths([input.hostPath, ...input.layerBinDirs]),
    LD_LIBRARY_PATH: paths([...(input.systemLibDirs ?? []), input.runtimeDir, input.taskRoot, `${input.taskRoot}/lib`, ...input.layerLibDirs]),
    PYTHONPATH: osOnly ? undefined : paths([input.runtimeDir, ...input.layerPythonDirs]),
  }
  const set = Object.fromEntries(Object.entries(base).filter((entry): entry is [string, string] => entry[1] !== undefined))
  return { ...set, ...input.platform, ...input.customer }
}

/** Extensions get the function's environment minus runtime-only keys and every `_` key (RAPID AgentExecEnv). */
export function extensionEnvironment(runtimeEnv: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(runtimeEnv)) {
    if (!key.startsWith('_') && !RUNTIME_ONLY.has(key)) {
      out[key] = value
    }
  }
  return out
}
