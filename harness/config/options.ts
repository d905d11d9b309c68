// The one options object and its validation. Everything downstream trusts `ParsedOptions`.
// The CLI builds the same `BootOptions` from flags, so both entry points share these messages.
import path from 'node:path'
import { DEFAULT_RUNTIME, RUNTIME_IDS, RUNTIME_PROFILES, isRuntimeId, type RuntimeProfile } from './profiles.js'
import { validateCustomerEnv } from './environment.js'
import {
  validateExpose,
  validateHostPorts,
  validateSandboxOptions,
  validateSandboxUser,
  type IsolationMode,
  type RuntimeClient,
  type SandboxUser,
} from './sandbox-options.js'
import type { TemplateSource } from './template.js'
import { validateTelemetryOptions, type ParsedTelemetryOptions, type TelemetryOptions } from './telemetry-options.js'
import { invalid, megabytesIn, numberIn, optionalBoolean, requireDirectory } from './validate.js'

export { invalid } from './validate.js'
/** How much the RunRecord keeps: everything, or a bounded summary for long (soak) runs. */
export type RecordMode = 'full' | 'summary'
export const RECORD_MODES: readonly RecordMode[] = ['full', 'summary']
export { ISOLATION_MODES, RUNTIME_CLIENTS, type IsolationMode, type RuntimeClient, type SandboxUser } from './sandbox-options.js'

export type ShutdownReason = 'spindown' | 'timeout' | 'failure'
export const SHUTDOWN_REASONS: readonly ShutdownReason[] = ['spindown', 'timeout', 'failure']

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
   * 'summary' keeps the first and last 100 invocations with their timeline and log lines, and of
   * the invokes between only what a verdict needs (record.summary says so). Default 'full'.
   */
  record?: RecordMode
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
   * The sandbox's root file system instead of the host's: a folder, a flat tar (`docker export`,
   * `crane export`) or an image tar (`docker save`, OCI layout). Needs the bwrap sandbox; `python`
   * is then a path inside the image.
   */
  image?: string
  /**
   * 'builtin' (default): our client at /var/runtime; 'awslambdaric': `<python> -m awslambdaric
   * <handler>` (the interpreter must be able to import it); 'image': the image's own
   * /var/runtime/bootstrap. Not with runtimeCommand.
   */
  runtimeClient?: RuntimeClient
  /**
   * A throwaway PostgreSQL whose sessions are accounted for after Shutdown: true for a server of
   * this sandbox's own, or of the started `PostgresProbe` given in boot's second argument. Default false.
   */
  postgres?: boolean
  /** A system PostgreSQL's bin folder instead of the embedded server. */
  postgresBinDir?: string
  /** An HTTP collector on loopback, handed to every process as SINK_URL (and put for `{SINK_URL}` in `env` values). Default false. */
  sink?: boolean
  /** OS-only runtimes (provided.*): set LAMBDA_RUNTIME_DIR for the bootstrap (UNCONFIRMED that Lambda does). Default false. */
  osOnlyRuntimeDir?: boolean
  /** The template resource these options were read from (`run --template`), for the record. */
  template?: TemplateSource
  /** Host paths the sandbox still sees (read-only) inside the hidden /root, /home and cache (`--expose`). */
  expose?: string[]
  /**
   * Who the processes are in a bwrap sandbox: Lambda's sbx_user1051 is uid 993; its gid (990) and
   * hostname form (169.254.x.y) are UNCONFIRMED, so both can be set.
   */
  sandboxUser?: { uid?: number; gid?: number; hostname?: string }
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
  readonly record: RecordMode
  readonly preflight: boolean
  readonly platformEnv: Readonly<Record<string, string>>
  readonly telemetry: ParsedTelemetryOptions
  readonly isolation: IsolationMode
  readonly ephemeralStorageMB: number
  /** The image file or folder as given, resolved; undefined: the host's root. */
  readonly image: string | undefined
  readonly runtimeClient: RuntimeClient
  readonly postgres: boolean
  readonly postgresBinDir: string | undefined
  readonly sink: boolean
  readonly osOnlyRuntimeDir: boolean
  readonly template: TemplateSource | undefined
  readonly expose: readonly string[]
  readonly sandboxUser: SandboxUser
  readonly hostPorts: readonly number[]
  /** Non-fatal findings (dropped env keys); the caller decides where they go. */
  readonly warnings: readonly string[]
}

/** In an `env` value, replaced by the sink probe's URL (as `check --env` does). */
export const SINK_URL_PLACEHOLDER = '{SINK_URL}'

/** Lambda's Invoke API limit on ClientContext: 3583 bytes once base64-encoded. */
const MAX_CLIENT_CONTEXT_BASE64_BYTES = 3583

/** A client context as the Invoke API takes it: a JSON object, within Lambda's size limit. */
export function validateClientContext(option: string, value: unknown): string {
  if (typeof value !== 'string') {
    throw invalid(option, 'a JSON object as text', value)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(value)
  } catch (error) {
    throw invalid(option, `a JSON object (${(error as Error).message})`, value)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid(option, 'a JSON object', value)
  }
  const base64Bytes = Math.ceil(Buffer.byteLength(value) / 3) * 4
  if (base64Bytes > MAX_CLIENT_CONTEXT_BASE64_BYTES) {
    throw invalid(option, `at most ${MAX_CLIENT_CONTEXT_BASE64_BYTES} bytes once base64-encoded`, `${base64Bytes} bytes`)
  }
  return value
}

export const DEFAULT_REGION = 'us-east-1'
export const DEFAULT_ACCOUNT_ID = '123456789012'

// Lambda's handler setting rule ([^\s]+, at most 128): a handler without a dot is accepted here
// and fails in the runtime with Runtime.MalformedHandlerName, as on Lambda.
const HANDLER_PATTERN = /^[^\s]{1,128}$/

// Lambda's function-name rule (letters, digits, hyphens, underscores, 1–64).
const FUNCTION_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/

export function validateOptions(options: BootOptions): ParsedOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalid('options', 'an object', options)
  }
  // The order of the checks is the order of the messages a caller sees first.
  const { functionDir, handler, profile, python, runtimeCommand } = validateRuntimeOptions(options)
  const layers = validateLayers(options)
  const { functionName, region, accountId } = validateIdentity(options)
  const { timeoutMs, memoryMB, initTimeoutMs, runtimeShutdownMs } = validateLimits(options)
  const freeze = optionalBoolean('freeze', options.freeze, false)
  if (options.record !== undefined && !RECORD_MODES.includes(options.record)) {
    throw invalid('record', RECORD_MODES.join(' | '), options.record)
  }
  const preflight = optionalBoolean('preflight', options.preflight, false)
  const { isolation, ephemeralStorageMB, image, runtimeClient } = validateSandboxOptions(options)
  const postgres = validatePostgres(options.postgres)
  const sink = optionalBoolean('sink', options.sink, false)
  const hostPorts = validateHostPorts(options.hostPorts)
  const osOnlyRuntimeDir = optionalBoolean('osOnlyRuntimeDir', options.osOnlyRuntimeDir, false)
  const warnings: string[] = [...(options.template?.warnings ?? [])]
  const { env, platformEnv } = validateEnvironments(options, warnings)
  return {
    functionDir,
    handler,
    profile,
    python,
    runtimeCommand,
    layers,
    timeoutMs,
    memoryMB,
    env,
    functionName,
    region,
    accountId,
    initTimeoutMs,
    runtimeShutdownMs,
    freeze,
    record: options.record ?? 'full',
    preflight,
    platformEnv,
    telemetry: validateTelemetryOptions(options.telemetry),
    isolation,
    ephemeralStorageMB,
    image,
    runtimeClient,
    postgres,
    postgresBinDir: options.postgresBinDir === undefined ? undefined : requireDirectory('postgresBinDir', options.postgresBinDir),
    sink,
    osOnlyRuntimeDir,
    template: options.template,
    expose: validateExpose(options.expose),
    sandboxUser: validateSandboxUser(options.sandboxUser),
    hostPorts,
    warnings,
  }
}

/** `functionDir`, `handler`, `runtime`, `python`, `runtimeCommand`, and which runtimeClient goes with them. */
function validateRuntimeOptions(options: BootOptions): Pick<ParsedOptions, 'functionDir' | 'handler' | 'profile' | 'python' | 'runtimeCommand'> {
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
  if (runtimeCommand !== undefined && options.runtimeClient !== undefined && options.runtimeClient !== 'image') {
    throw invalid('runtimeClient', 'no runtimeClient with runtimeCommand (the command is the runtime client)', options.runtimeClient)
  }
  if (options.runtimeClient !== undefined && options.runtimeClient !== 'image' && RUNTIME_PROFILES[runtime].family !== 'python') {
    throw invalid('runtimeClient', `no runtimeClient with an OS-only runtime (${runtime} runs the function's bootstrap)`, options.runtimeClient)
  }
  return { functionDir, handler, profile: RUNTIME_PROFILES[runtime], python, runtimeCommand }
}

/** `layers` in order, then `extensionsDir` as one more layer. */
function validateLayers(options: BootOptions): LayerSpec[] {
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
  return layers
}

/** `functionName`, `region` and `accountId`, as Lambda's ARN needs them. */
function validateIdentity(options: BootOptions): Pick<ParsedOptions, 'functionName' | 'region' | 'accountId'> {
  const functionName = options.functionName ?? 'harness-function'
  if (typeof functionName !== 'string' || !FUNCTION_NAME_PATTERN.test(functionName)) {
    throw invalid('functionName', '1–64 letters, digits, hyphens or underscores', functionName)
  }
  const region = options.region ?? DEFAULT_REGION
  if (typeof region !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) {
    throw invalid('region', 'a region name like us-east-1', region)
  }
  const accountId = options.accountId ?? DEFAULT_ACCOUNT_ID
  if (typeof accountId !== 'string' || !/^\d{12}$/.test(accountId)) {
    throw invalid('accountId', 'twelve digits', accountId)
  }
  return { functionName, region, accountId }
}

/** `timeoutSec` (as ms), `memoryMB`, `initTimeoutMs` and `runtimeShutdownMs`. */
function validateLimits(options: BootOptions): Pick<ParsedOptions, 'timeoutMs' | 'memoryMB' | 'initTimeoutMs' | 'runtimeShutdownMs'> {
  const timeoutSec = numberIn('timeoutSec', options.timeoutSec, 0.001, 900, 3)
  const memoryMB = megabytesIn('memoryMB', options.memoryMB, 128, 10240)
  const initTimeoutMs = numberIn('initTimeoutMs', options.initTimeoutMs, 1, 900_000, 10_000)
  const runtimeShutdownMs =
    options.runtimeShutdownMs === undefined ? undefined : numberIn('runtimeShutdownMs', options.runtimeShutdownMs, 0, 2000, 0)
  return { timeoutMs: Math.round(timeoutSec * 1000), memoryMB, initTimeoutMs, runtimeShutdownMs }
}

function validatePostgres(postgres: unknown): boolean {
  if (postgres !== undefined && typeof postgres !== 'boolean') {
    throw invalid('postgres', 'true or false (a shared PostgresProbe goes in boot\'s second argument)', postgres)
  }
  return postgres ?? false
}

/** The function's `env` (Lambda's rules; {SINK_URL} needs the sink) and the `platformEnv` on top. */
function validateEnvironments(options: BootOptions, warnings: string[]): Pick<ParsedOptions, 'env' | 'platformEnv'> {
  const env = validateCustomerEnv(options.env ?? {}, warnings)
  const namesSink = Object.keys(env).find((key) => env[key]?.includes(SINK_URL_PLACEHOLDER))
  if (namesSink !== undefined && options.sink !== true) {
    throw invalid('env', `sink: true (--sink) for ${namesSink}, whose value names ${SINK_URL_PLACEHOLDER}`, env[namesSink])
  }
  const platformEnv = options.platformEnv ?? {}
  if (typeof platformEnv !== 'object' || platformEnv === null || Object.values(platformEnv).some((v) => typeof v !== 'string')) {
    throw invalid('platformEnv', 'an object of string values', platformEnv)
  }
  return { env, platformEnv: { ...platformEnv } }
}
