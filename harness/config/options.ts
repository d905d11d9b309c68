// The one options object and its validation. Everything downstream trusts `ParsedOptions`.
// The CLI builds the same `BootOptions` from flags, so both entry points share these messages.
import { statSync } from 'node:fs'
import path from 'node:path'
import { HarnessError } from '../errors.js'
import { DEFAULT_RUNTIME, RUNTIME_IDS, RUNTIME_PROFILES, isRuntimeId, type RuntimeProfile } from './profiles.js'
import { SANDBOX_API_PORT, validateCustomerEnv } from './environment.js'
import { validateTelemetryOptions, type ParsedTelemetryOptions, type TelemetryOptions } from './telemetry-options.js'

export type ShutdownReason = 'spindown' | 'timeout' | 'failure'
export const SHUTDOWN_REASONS: readonly ShutdownReason[] = ['spindown', 'timeout', 'failure']
/** 'auto': a bwrap sandbox when Linux and bwrap allow it, else plain processes with a warning. */
export type IsolationMode = 'auto' | 'bwrap' | 'none'
export const ISOLATION_MODES: readonly IsolationMode[] = ['auto', 'bwrap', 'none']

export interface BootOptions {
  /** The function's code: Lambda's /var/task. */
  functionDir: string
  /** `module.function`, as Lambda's handler setting. */
  handler: string
  /** Runtime profile, python3.10 … python3.14. Default python3.12. */
  runtime?: string
  /** Interpreter that runs our runtime client. Default `python3`. */
  python?: string
  /** Run this command as the runtime instead of our client (bring your own runtime client). */
  runtimeCommand?: string[]
  /** Layer folders or .zip files, in Lambda's order (later ones win); zips are unpacked privately. */
  layers?: string[]
  /** Shortcut for a layer whose `extensions/` is this folder. */
  extensionsDir?: string
  /** Function timeout in seconds (1–900). Default 3, as Lambda. */
  timeoutSec?: number
  /** Memory size in MB (128–10240). Default 128. */
  memoryMB?: number
  /** The function's environment variables; extensions get them too. */
  env?: Record<string, string>
  functionName?: string
  region?: string
  accountId?: string
  /** Lambda's Init limit for on-demand functions. Default 10000. */
  initTimeoutMs?: number
  /** The runtime's share of the shutdown window. Default 300 ms (500 with an internal extension). */
  runtimeShutdownMs?: number
  /** SIGSTOP every process group between invokes, as Lambda freezes the sandbox. Default false. */
  freeze?: boolean
  /**
   * Refuse before anything starts what Lambda fails only at Init: a handler with no module, an
   * extension file that is missing or not executable (the CLI's `run`). Default false: Lambda's way.
   */
  preflight?: boolean
  /** Extra variables for every process, on top of Lambda's (e.g. a probe's DATABASE_URL). */
  platformEnv?: Record<string, string>
  /** Telemetry/Logs API delivery: retries, timeouts, the UNCONFIRMED maxItems default. */
  telemetry?: TelemetryOptions
  /** Lambda's sandbox (/var/task, /opt, read-only root, private /tmp) via bwrap, or plain processes. Default 'auto'. */
  isolation?: IsolationMode
  /** Size of the sandbox's /tmp in MB (512–10240), as Lambda's ephemeral storage. Default 512. */
  ephemeralStorageMB?: number
  /**
   * A throwaway PostgreSQL whose sessions are accounted for after Shutdown: true for a server of
   * this sandbox's own, or a started `PostgresProbe` to share one. Default false.
   */
  postgres?: boolean | object
  /** A system PostgreSQL's bin folder instead of the embedded server. */
  postgresBinDir?: string
  /** An HTTP collector on loopback, handed to every process as SINK_URL. Default false. */
  sink?: boolean
  /**
   * Ports of the host's 127.0.0.1 the processes reach at the same address inside: a bwrap
   * sandbox has a network of its own (the probes' own servers are relayed in without this). Default none.
   */
  hostPorts?: number[]
}

/** A layer as Lambda unpacks it under /opt: `extensions/`, `python/`, `bin/`, `lib/`. */
export interface LayerSpec {
  readonly root: string
  readonly extensionsDir: string
}

export interface ParsedOptions {
  readonly functionDir: string
  readonly handler: string
  readonly profile: RuntimeProfile
  readonly python: string
  readonly runtimeCommand: readonly string[] | undefined
  readonly layers: readonly LayerSpec[]
  readonly timeoutMs: number
  readonly memoryMB: number
  readonly env: Readonly<Record<string, string>>
  readonly functionName: string
  readonly region: string
  readonly accountId: string
  readonly initTimeoutMs: number
  readonly runtimeShutdownMs: number | undefined
  readonly freeze: boolean
  readonly preflight: boolean
  readonly platformEnv: Readonly<Record<string, string>>
  readonly telemetry: ParsedTelemetryOptions
  readonly isolation: IsolationMode
  readonly ephemeralStorageMB: number
  readonly postgres: boolean | object
  readonly postgresBinDir: string | undefined
  readonly sink: boolean
  readonly hostPorts: readonly number[]
  /** Non-fatal findings (dropped env keys); the caller decides where they go. */
  readonly warnings: readonly string[]
}

export function invalid(option: string, expected: string, actual: unknown): HarnessError {
  return new HarnessError('ERR_INVALID_OPTION', `option ${option}: expected ${expected}, got ${describe(actual)}`)
}

function describe(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value)
  }
  if (value === undefined) {
    return 'nothing'
  }
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

function requireDirectory(option: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw invalid(option, 'a folder path', value)
  }
  const resolved = path.resolve(value)
  const stat = statSync(resolved, { throwIfNoEntry: false })
  if (stat === undefined) {
    throw new HarnessError('ERR_FILE_NOT_FOUND', `option ${option}: folder ${JSON.stringify(value)} does not exist`)
  }
  if (!stat.isDirectory()) {
    throw invalid(option, 'a folder', `${value} (not a folder)`)
  }
  return resolved
}

function integerIn(option: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined) {
    return fallback
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalid(option, `a number from ${min} to ${max}`, value)
  }
  return value
}

// Lambda's handler setting rule ([^\s]+, at most 128): a handler without a dot is accepted here
// and fails in the runtime with Runtime.MalformedHandlerName, as on Lambda.
const HANDLER_PATTERN = /^[^\s]{1,128}$/

// Lambda's function-name rule (letters, digits, hyphens, underscores, 1–64).
const FUNCTION_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/

export function validateOptions(options: BootOptions): ParsedOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalid('options', 'an object', options)
  }
  const functionDir = requireDirectory('functionDir', options.functionDir)
  const { handler } = options
  if (typeof handler !== 'string' || !HANDLER_PATTERN.test(handler)) {
    throw invalid('handler', 'module.function (e.g. "app.handler"), at most 128 characters without spaces', handler)
  }
  const runtime = options.runtime ?? DEFAULT_RUNTIME
  if (typeof runtime !== 'string' || !isRuntimeId(runtime)) {
    throw invalid('runtime', `one of ${RUNTIME_IDS.join(', ')}`, runtime)
  }
  const python = options.python ?? 'python3'
  if (typeof python !== 'string' || python === '') {
    throw invalid('python', 'an interpreter command or path', python)
  }
  const { runtimeCommand } = options
  if (
    runtimeCommand !== undefined &&
    (!Array.isArray(runtimeCommand) || runtimeCommand.length === 0 || !runtimeCommand.every((part) => typeof part === 'string' && part !== ''))
  ) {
    throw invalid('runtimeCommand', 'a non-empty list of non-empty strings', runtimeCommand)
  }
  const layers: LayerSpec[] = []
  if (options.layers !== undefined) {
    if (!Array.isArray(options.layers)) {
      throw invalid('layers', 'a list of folders', options.layers)
    }
    options.layers.forEach((layer, index) => {
      const root = requireDirectory(`layers[${index}]`, layer)
      layers.push({ root, extensionsDir: path.join(root, 'extensions') })
    })
  }
  if (options.extensionsDir !== undefined) {
    // `--extensions DIR` is one more layer whose folder *is* the extensions folder.
    const root = requireDirectory('extensionsDir', options.extensionsDir)
    layers.push({ root, extensionsDir: root })
  }
  const functionName = options.functionName ?? 'harness-function'
  if (typeof functionName !== 'string' || !FUNCTION_NAME_PATTERN.test(functionName)) {
    throw invalid('functionName', '1–64 letters, digits, hyphens or underscores', functionName)
  }
  const region = options.region ?? 'us-east-1'
  if (typeof region !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) {
    throw invalid('region', 'a region name like us-east-1', region)
  }
  const accountId = options.accountId ?? '123456789012'
  if (typeof accountId !== 'string' || !/^\d{12}$/.test(accountId)) {
    throw invalid('accountId', 'twelve digits', accountId)
  }
  const timeoutSec = integerIn('timeoutSec', options.timeoutSec, 0.001, 900, 3)
  const memoryMB = integerIn('memoryMB', options.memoryMB, 128, 10240, 128)
  if (!Number.isInteger(memoryMB)) {
    throw invalid('memoryMB', 'a whole number of MB from 128 to 10240', memoryMB)
  }
  const initTimeoutMs = integerIn('initTimeoutMs', options.initTimeoutMs, 1, 900_000, 10_000)
  const runtimeShutdownMs =
    options.runtimeShutdownMs === undefined ? undefined : integerIn('runtimeShutdownMs', options.runtimeShutdownMs, 0, 2000, 0)
  if (options.freeze !== undefined && typeof options.freeze !== 'boolean') {
    throw invalid('freeze', 'true or false', options.freeze)
  }
  if (options.preflight !== undefined && typeof options.preflight !== 'boolean') {
    throw invalid('preflight', 'true or false', options.preflight)
  }
  const isolation = options.isolation ?? 'auto'
  if (!ISOLATION_MODES.includes(isolation)) {
    throw invalid('isolation', ISOLATION_MODES.join(' | '), isolation)
  }
  const ephemeralStorageMB = integerIn('ephemeralStorageMB', options.ephemeralStorageMB, 512, 10240, 512)
  if (!Number.isInteger(ephemeralStorageMB)) {
    throw invalid('ephemeralStorageMB', 'a whole number of MB from 512 to 10240', ephemeralStorageMB)
  }
  if (options.postgres !== undefined && typeof options.postgres !== 'boolean' && (typeof options.postgres !== 'object' || options.postgres === null)) {
    throw invalid('postgres', 'true, false or a started PostgresProbe', options.postgres)
  }
  if (options.sink !== undefined && typeof options.sink !== 'boolean') {
    throw invalid('sink', 'true or false', options.sink)
  }
  const hostPorts = options.hostPorts ?? []
  if (!Array.isArray(hostPorts) || hostPorts.some((port) => !Number.isInteger(port) || port < 1 || port > 65535 || port === SANDBOX_API_PORT)) {
    throw invalid('hostPorts', `an array of TCP ports (1-65535, not the API's ${SANDBOX_API_PORT})`, hostPorts)
  }
  const warnings: string[] = []
  const env = validateCustomerEnv(options.env ?? {}, warnings)
  const platformEnv = options.platformEnv ?? {}
  if (typeof platformEnv !== 'object' || platformEnv === null || Object.values(platformEnv).some((v) => typeof v !== 'string')) {
    throw invalid('platformEnv', 'an object of string values', platformEnv)
  }

  return {
    functionDir,
    handler,
    profile: RUNTIME_PROFILES[runtime],
    python,
    runtimeCommand,
    layers,
    timeoutMs: Math.round(timeoutSec * 1000),
    memoryMB,
    env,
    functionName,
    region,
    accountId,
    initTimeoutMs,
    runtimeShutdownMs,
    freeze: options.freeze ?? false,
    preflight: options.preflight ?? false,
    platformEnv: { ...platformEnv },
    telemetry: validateTelemetryOptions(options.telemetry),
    isolation,
    ephemeralStorageMB,
    postgres: options.postgres ?? false,
    postgresBinDir: options.postgresBinDir === undefined ? undefined : requireDirectory('postgresBinDir', options.postgresBinDir),
    sink: options.sink ?? false,
    hostPorts: [...new Set(hostPorts)],
    warnings,
  }
}
