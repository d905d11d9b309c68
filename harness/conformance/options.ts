// The options of `check`, validated once (the CLI builds the same object from flags).
import { statSync } from 'node:fs'
import { invalid, ISOLATION_MODES, type IsolationMode, type RuntimeClient } from '../config/options.js'
import { HarnessError } from '../errors.js'
import { PYTHON_RUNTIME_IDS, RUNTIME_PROFILES, isRuntimeId, type RuntimeId } from '../config/profiles.js'
import { PostgresProbe } from '../probes/postgres.js'
import { DEFAULT_TOLERANCE } from './checks-resources.js'
import { SCENARIO_NAMES, type LeakTolerance, type ScenarioName } from './types.js'

export type PostgresMode = 'auto' | 'always' | 'never'
export const POSTGRES_MODES: readonly PostgresMode[] = ['auto', 'always', 'never']

export interface CheckOptions {
  /** An extension file, a layer folder (with extensions/) or a layer .zip. */
  target: string
  /** The function to run instead of the built-in one (with `handler`). */
  functionDir?: string
  handler?: string
  /** Runtime profile. Default python3.12, as `run`. */
  runtime?: string
  /** Interpreter of the runtime client. Default /usr/bin/python3 (Debian's: quick to start, has psycopg2). */
  python?: string
  /** Run only these scenarios. Default: all. */
  only?: readonly string[]
  /** Invokes of the many-invokes scenario. Default 200. */
  manyInvokes?: number
  /** Scenarios run at the same time. Default 3. */
  jobs?: number
  /**
   * A PostgreSQL probe for `db-sessions-closed`: 'auto' starts one when a file of the layer mentions
   * DATABASE_URL, 'always', 'never', or a started `PostgresProbe` to share. Default 'auto'.
   */
  postgres?: PostgresMode | PostgresProbe
  postgresBinDir?: string
  /** Environment for the function and the extensions (their configuration); `{SINK_URL}` in a value becomes the scenario's collector. */
  env?: Record<string, string>
  /** How much growth the many-invokes checks allow. */
  tolerance?: Partial<LeakTolerance>
  isolation?: IsolationMode
  /** Lambda's Init limit. Default 10000. */
  initTimeoutMs?: number
  /** The sandbox's root file system (as `run`'s `image`); `python` is then a path inside it. */
  image?: string
  runtimeClient?: RuntimeClient
}

export interface ParsedCheckOptions {
  readonly target: string
  readonly functionDir: string | undefined
  readonly handler: string | undefined
  readonly runtime: RuntimeId | undefined
  readonly python: string
  readonly scenarios: readonly ScenarioName[]
  readonly manyInvokes: number
  readonly jobs: number
  readonly postgres: PostgresMode | PostgresProbe
  readonly postgresBinDir: string | undefined
  readonly env: Readonly<Record<string, string>>
  readonly tolerance: LeakTolerance
  readonly isolation: IsolationMode
  readonly initTimeoutMs: number
  /** Checked by boot(), as `run`'s. */
  readonly image: string | undefined
  readonly runtimeClient: RuntimeClient | undefined
}

export const DEFAULT_MANY_INVOKES = 200
export const DEFAULT_JOBS = 3

function wholeNumber(option: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined) {
    return fallback
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(option, `a whole number from ${min} to ${max}`, value)
  }
  return value
}

function nonNegative(option: string, value: unknown, fallback: number): number {
  if (value === undefined) {
    return fallback
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalid(option, 'a number, 0 or more', value)
  }
  return value
}

export function validateCheckOptions(options: CheckOptions): ParsedCheckOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalid('options', 'an object', options)
  }
  if (typeof options.target !== 'string' || options.target === '') {
    throw invalid('target', 'an extension file, a layer folder or a layer .zip', options.target)
  }
  validateFunction(options)
  const runtime = validateRuntime(options.runtime)
  const python = options.python ?? '/usr/bin/python3'
  if (typeof python !== 'string' || python === '') {
    throw invalid('python', 'an interpreter command or path', python)
  }
  const scenarios = validateScenarios(options.only ?? [])
  const postgres = options.postgres ?? 'auto'
  if (!(postgres instanceof PostgresProbe) && !POSTGRES_MODES.includes(postgres)) {
    throw invalid('postgres', `${POSTGRES_MODES.join(' | ')} or a started PostgresProbe`, postgres)
  }
  const isolation = options.isolation ?? 'auto'
  if (!ISOLATION_MODES.includes(isolation)) {
    throw invalid('isolation', ISOLATION_MODES.join(' | '), isolation)
  }
  const env = options.env ?? {}
  if (typeof env !== 'object' || env === null || Object.values(env).some((v) => typeof v !== 'string')) {
    throw invalid('env', 'an object of string values', env)
  }
  return {
    target: options.target,
    functionDir: options.functionDir,
    handler: options.handler,
    runtime,
    python,
    scenarios,
    manyInvokes: wholeNumber('manyInvokes', options.manyInvokes, 10, 100_000, DEFAULT_MANY_INVOKES),
    jobs: wholeNumber('jobs', options.jobs, 1, 16, DEFAULT_JOBS),
    postgres,
    postgresBinDir: options.postgresBinDir,
    env: { ...env },
    tolerance: validateTolerance(options.tolerance ?? {}),
    isolation,
    initTimeoutMs: wholeNumber('initTimeoutMs', options.initTimeoutMs, 1, 900_000, 10_000),
    image: options.image,
    runtimeClient: options.runtimeClient,
  }
}

/** functionDir and handler come together, and the folder exists. */
function validateFunction(options: CheckOptions): void {
  if ((options.functionDir === undefined) !== (options.handler === undefined)) {
    throw invalid(options.functionDir === undefined ? 'functionDir' : 'handler', 'functionDir and handler together (or neither, for the built-in function)', undefined)
  }
  if (options.functionDir !== undefined && statSync(options.functionDir, { throwIfNoEntry: false })?.isDirectory() !== true) {
    throw new HarnessError('ERR_FILE_NOT_FOUND', `option functionDir: folder ${JSON.stringify(options.functionDir)} does not exist`)
  }
}

/** The init, timeout and failure scenarios always run the built-in Python function: a Python profile. */
function validateRuntime(runtime: string | undefined): RuntimeId | undefined {
  if (runtime !== undefined && (!isRuntimeId(runtime) || RUNTIME_PROFILES[runtime].family !== 'python')) {
    throw invalid('runtime', `one of ${PYTHON_RUNTIME_IDS.join(', ')} (check runs a Python function)`, runtime)
  }
  return runtime
}

function validateScenarios(only: readonly string[]): readonly ScenarioName[] {
  if (!Array.isArray(only)) {
    throw invalid('only', `a list of scenarios (${SCENARIO_NAMES.join(', ')})`, only)
  }
  for (const name of only) {
    if (!SCENARIO_NAMES.some((scenario) => scenario === name)) {
      throw invalid('only', `scenarios among ${SCENARIO_NAMES.join(', ')}`, name)
    }
  }
  return only.length === 0 ? SCENARIO_NAMES : SCENARIO_NAMES.filter((name) => only.includes(name))
}

function validateTolerance(tolerance: Partial<LeakTolerance>): LeakTolerance {
  return {
    memoryMB: nonNegative('tolerance.memoryMB', tolerance.memoryMB, DEFAULT_TOLERANCE.memoryMB),
    memoryPercent: nonNegative('tolerance.memoryPercent', tolerance.memoryPercent, DEFAULT_TOLERANCE.memoryPercent),
    fds: nonNegative('tolerance.fds', tolerance.fds, DEFAULT_TOLERANCE.fds),
    threads: nonNegative('tolerance.threads', tolerance.threads, DEFAULT_TOLERANCE.threads),
  }
}
