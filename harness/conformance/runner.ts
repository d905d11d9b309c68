// `runCheck`: every scenario in a fresh sandbox (a few at a time), then every check of every
// scenario for every extension of the target, then the results that follow from another check's
// failure folded into that one. One PostgreSQL probe serves the whole run, and each scenario gets
// a sink of its own at SINK_URL.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import type { BootOptions } from '../config/options.js'
import { DEFAULT_RUNTIME, type RuntimeId } from '../config/profiles.js'
import { PACKAGE_ROOT } from '../paths.js'
import { PostgresProbe } from '../probes/postgres.js'
import { SinkProbe } from '../probes/sink.js'
import type { RunRecord } from '../record/run-record.js'
import { HARNESS_VERSION, Sandbox } from '../sandbox/sandbox.js'
import { pythonInfo } from '../sandbox/python-info.js'
import { catchesSigterm, descendants } from '../supervisor/process-groups.js'
import { deferred, waitFor } from '../wait/index.js'
import { sampleTree } from './checks-resources.js'
import { validateCheckOptions, type CheckOptions, type ParsedCheckOptions } from './options.js'
import { SCENARIOS, startOrder } from './scenarios.js'
import { resolveTarget, type CheckTarget } from './target.js'
import type { CheckResult, ExtensionObservations, ScenarioEvidence, ScenarioName, ScenarioSpec, SuiteFacts } from './types.js'

/** The built-in function: a marker line per invoke, then what its event asks for. */
export const BUILTIN_FUNCTION_DIR = path.join(PACKAGE_ROOT, 'harness', 'conformance', 'function')

export interface ScenarioReport {
  readonly name: ScenarioName
  readonly title: string
  /** Which function ran: the user's or a built-in one. */
  readonly function: string
  readonly durationMs: number
  readonly sinkRequests: number
  readonly record: RunRecord
  /** Interrupted while it ran: its record is kept, its checks are not evaluated. */
  readonly interrupted?: true
}

export interface CheckReport {
  readonly harness: { readonly name: 'lambda-harness'; readonly version: string }
  readonly target: { readonly input: string; readonly kind: CheckTarget['kind']; readonly extensions: readonly string[] }
  readonly function: { readonly dir: string; readonly handler: string; readonly builtin: boolean }
  readonly runtime: { readonly profile: RuntimeId; readonly python: string; readonly pythonVersion: string | null }
  readonly startedAt: string
  readonly durationMs: number
  /** Whether a PostgreSQL probe ran, why, and what starting it cost. */
  readonly postgres: { readonly used: boolean; readonly why: string; readonly startMs: number | null }
  readonly warnings: readonly string[]
  readonly scenarios: readonly ScenarioReport[]
  readonly checks: readonly CheckResult[]
  readonly summary: { readonly total: number; readonly passed: number; readonly failed: number; readonly skipped: number }
  /** Every check passed or was skipped. */
  readonly ok: boolean
  /** Set when the run was interrupted (by `signal`): `unfinished` scenarios have no checks. */
  readonly interrupted?: { readonly signal: string; readonly unfinished: readonly ScenarioName[] }
}

export interface CheckHooks {
  readonly warn?: (message: string) => void
  /** Called as each scenario ends. */
  readonly scenarioDone?: (scenario: ScenarioReport) => void
  /**
   * Aborted to stop the run (SIGINT, SIGTERM; its reason names the signal): no scenario starts,
   * those running end their invokes and shut down, and the report has the finished ones.
   */
  readonly interrupt?: AbortSignal
}

interface RunSetup {
  readonly options: ParsedCheckOptions
  readonly target: CheckTarget
  readonly profile: RuntimeId
  readonly postgres: PostgresProbe | undefined
  readonly signal: AbortSignal
  readonly warnings: Set<string>
  readonly interrupt: AbortSignal | undefined
}

export async function runCheck(options: CheckOptions, hooks: CheckHooks = {}): Promise<CheckReport> {
  const parsed = validateCheckOptions(options)
  const startedAt = new Date().toISOString()
  const started = performance.now()
  // An image's interpreter is probed by each boot, inside the image.
  const python = parsed.image === undefined ? await pythonInfo(parsed.python) : undefined
  const profile = parsed.runtime ?? DEFAULT_RUNTIME
  const target = await resolveTarget(parsed.target)
  const controller = new AbortController()
  let ownProbe: PostgresProbe | undefined
  try {
    const wantsPostgres = postgresChoice(parsed, target)
    let startMs: number | null = null
    let probe: PostgresProbe | undefined = parsed.postgres instanceof PostgresProbe ? parsed.postgres : undefined
    if (wantsPostgres.used && probe === undefined) {
      const t0 = performance.now()
      ownProbe = await PostgresProbe.start(parsed.postgresBinDir === undefined ? {} : { binDir: parsed.postgresBinDir })
      probe = ownProbe
      startMs = performance.now() - t0
    }
    const setup: RunSetup = { options: parsed, target, profile, postgres: probe, signal: controller.signal, warnings: new Set(), interrupt: hooks.interrupt }
    const specs = SCENARIOS.filter((spec) => parsed.scenarios.includes(spec.name))
    const ran = await pool(specs, startOrder(specs, parsed.manyInvokes), parsed.jobs, controller, hooks.interrupt, async (spec, booted) => {
      const result = await runScenario(spec, setup, booted)
      hooks.scenarioDone?.(scenarioReport(spec, result))
      return result
    })
    for (const warning of setup.warnings) {
      hooks.warn?.(warning)
    }
    const run = { parsed, target, specs, ran, interrupt: hooks.interrupt }
    return {
      harness: { name: 'lambda-harness', version: HARNESS_VERSION },
      target: { input: target.input, kind: target.kind, extensions: target.extensions },
      function: {
        dir: parsed.functionDir === undefined ? BUILTIN_FUNCTION_DIR : path.resolve(parsed.functionDir),
        handler: parsed.handler ?? 'app.handler',
        builtin: parsed.functionDir === undefined,
      },
      runtime: { profile, python: parsed.python, pythonVersion: python?.version ?? null },
      startedAt,
      durationMs: performance.now() - started,
      postgres: { ...wantsPostgres, startMs },
      warnings: [...setup.warnings],
      ...outcome(run),
    }
  } finally {
    controller.abort()
    await ownProbe?.stop().catch(() => undefined)
    await target.cleanup()
  }
}

/** Whether the run needs a PostgreSQL probe, and why. */
function postgresChoice(parsed: ParsedCheckOptions, target: CheckTarget): { used: boolean; why: string } {
  if (parsed.postgres instanceof PostgresProbe) {
    return { used: true, why: 'a shared probe was given' }
  }
  if (parsed.postgres !== 'auto') {
    return { used: parsed.postgres === 'always', why: `--postgres ${parsed.postgres}` }
  }
  return target.mentionsDatabaseUrl ? { used: true, why: 'a file of the layer mentions DATABASE_URL' } : { used: false, why: 'no file of the layer mentions DATABASE_URL' }
}

interface FinishedRun {
  readonly parsed: ParsedCheckOptions
  readonly target: CheckTarget
  readonly specs: readonly ScenarioSpec[]
  /** Each spec's evidence, undefined where it never ran. */
  readonly ran: readonly (ScenarioEvidence | undefined)[]
  readonly interrupt: AbortSignal | undefined
}

/** The scenarios, every check of the finished ones, and the summary. */
function outcome({ parsed, target, specs, ran, interrupt }: FinishedRun): Pick<CheckReport, 'scenarios' | 'checks' | 'summary' | 'ok' | 'interrupted'> {
  // Only finished scenarios are checked; one cut short by an interrupt would fail for no fault of the extension.
  const finished = (index: number) => ran[index] !== undefined && !ran[index].record.interrupted
  const evidence = ran.filter((each, index): each is ScenarioEvidence => each !== undefined && finished(index))
  const suite: SuiteFacts = {
    sinkRequests: evidence.reduce((n, e) => n + e.sink.requests, 0),
    manyInvokes: parsed.manyInvokes,
    tolerance: parsed.tolerance,
    ...(parsed.env.AWS_LAMBDA_EXEC_WRAPPER === undefined ? {} : { execWrapper: parsed.env.AWS_LAMBDA_EXEC_WRAPPER }),
  }
  const checks = resolveBlocked(
    specs.flatMap((spec, index) =>
      finished(index) ? spec.checks.flatMap((check) => target.extensions.map((extension) => evaluate(spec, check, ran[index]!, extension, suite))) : [],
    ),
  )
  const summary = {
    total: checks.length,
    passed: checks.filter((c) => c.outcome === 'pass').length,
    failed: checks.filter((c) => c.outcome === 'fail').length,
    skipped: checks.filter((c) => c.outcome === 'skip').length,
  }
  return {
    scenarios: specs.flatMap((spec, index) => (ran[index] === undefined ? [] : [scenarioReport(spec, ran[index])])),
    checks,
    summary,
    ok: summary.failed === 0 && interrupt?.aborted !== true,
    ...(interrupt?.aborted === true
      ? { interrupted: { signal: String(interrupt.reason), unfinished: specs.filter((_, index) => !finished(index)).map((spec) => spec.name) } }
      : {}),
  }
}

function scenarioReport(spec: ScenarioSpec, evidence: ScenarioEvidence): ScenarioReport {
  return {
    name: spec.name,
    title: spec.title,
    function: evidence.builtinFunction ? (spec.function === 'builtin-fails-init' ? 'built-in (fails its Init)' : 'built-in') : 'yours',
    durationMs: evidence.durationMs,
    sinkRequests: evidence.sink.requests,
    record: evidence.record,
    ...(evidence.record.interrupted ? { interrupted: true as const } : {}),
  }
}

async function runScenario(spec: ScenarioSpec, setup: RunSetup, booted: () => void): Promise<ScenarioEvidence> {
  const started = performance.now()
  const userFunction = spec.function === 'user' && setup.options.functionDir !== undefined
  // Bodies are kept for the telemetry check; many invokes only need the count.
  const sink = await SinkProbe.start(spec.name === 'many-invokes' ? { keepBodies: 0 } : { keepBodies: 5000, keepBodyBytes: 4 * 1024 * 1024 })
  const observations: Record<string, ExtensionObservations> = Object.fromEntries(
    setup.target.extensions.map((name) => [name, { samples: [], sigtermHandler: undefined, commands: {} }]),
  )
  let record: RunRecord
  let endedAtMs = Number.POSITIVE_INFINITY
  try {
    const sandbox = await Sandbox.boot(bootOptions(spec, setup, sink.url, userFunction), { warn: (message) => setup.warnings.add(message), ...(setup.postgres === undefined ? {} : { postgres: setup.postgres }) })
    booted()
    const stopListening = sandbox.interruptOn(setup.interrupt)
    try {
      await driveScenario(spec, setup, sandbox, observations)
      // A scenario that ends without a Shutdown ends here, not in the SIGKILLs of dispose().
      endedAtMs = sandbox.now()
    } catch (error) {
      // A drive cut short by an interrupt may trip over what it expected; its record says interrupted.
      if (!sandbox.record.interrupted) {
        throw error
      }
    } finally {
      stopListening()
      await sandbox.dispose()
    }
    // After dispose() the record also has the calls still waiting when the server closed.
    record = sandbox.record
  } finally {
    await sink.stop()
  }
  const received = sink.received()
  return {
    scenario: spec.name,
    record,
    extensions: observations,
    sink: { requests: received.requests, bodies: received.bodies },
    builtinFunction: !userFunction,
    initTimeoutMs: setup.options.initTimeoutMs,
    endedAtMs,
    durationMs: performance.now() - started,
  }
}

function bootOptions(spec: ScenarioSpec, { options, target, profile, postgres }: RunSetup, sinkUrl: string, userFunction: boolean): BootOptions {
  return {
    functionDir: userFunction ? options.functionDir! : BUILTIN_FUNCTION_DIR,
    handler: userFunction ? options.handler! : spec.function === 'builtin-fails-init' ? 'fails_init.handler' : 'app.handler',
    runtime: profile,
    python: options.python,
    layers: [target.layerRoot],
    expose: [...target.expose],
    // `--env DEST={SINK_URL}` points an extension's own destination setting at this scenario's sink.
    env: Object.fromEntries(Object.entries(options.env).map(([key, value]) => [key, value.replaceAll('{SINK_URL}', sinkUrl)])),
    platformEnv: { SINK_URL: sinkUrl },
    // The scenario's sink is on the host: a bwrap sandbox reaches it at the same address inside.
    hostPorts: [Number(new URL(sinkUrl).port)],
    postgres: postgres !== undefined,
    isolation: options.isolation,
    initTimeoutMs: options.initTimeoutMs,
    ...(options.image === undefined ? {} : { image: options.image }),
    ...(options.runtimeClient === undefined ? {} : { runtimeClient: options.runtimeClient }),
    functionName: `check-${spec.name}`,
    ...spec.boot,
  }
}

/** Runs the scenario's drive, sampling the extensions' first processes as it asks. */
async function driveScenario(spec: ScenarioSpec, setup: RunSetup, sandbox: Sandbox, observations: Record<string, ExtensionObservations>): Promise<void> {
  const booted = sandbox.record
  const pids = new Map(
    setup.target.extensions.flatMap((name) => {
      const pid = booted.processes.find((p) => p.kind === 'extension' && p.name === name && p.generation === 0)?.pid
      return pid == null ? [] : [[name, pid] as const]
    }),
  )
  await spec.drive({
    sandbox,
    extensions: setup.target.extensions,
    manyInvokes: setup.options.manyInvokes,
    signal: setup.signal,
    sample(afterInvokes) {
      for (const [name, pid] of pids) {
        const sample = sampleTree(pid, afterInvokes, sandbox.now())
        if (sample !== undefined) {
          observations[name]!.samples.push(sample)
        }
      }
    },
    observeBeforeShutdown() {
      for (const [name, pid] of pids) {
        const seen = observations[name]!
        seen.sigtermHandler = catchesSigterm(pid)
        for (const member of descendants(pid)) {
          seen.commands[member] = commandLine(member)
        }
      }
    },
  })
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((part) => part !== '').join(' ').slice(0, 200)
  } catch {
    return '?'
  }
}

function evaluate(spec: ScenarioSpec, check: ScenarioSpec['checks'][number], evidence: ScenarioEvidence, extension: string, suite: SuiteFacts): CheckResult {
  const verdict = check.evaluate(evidence, extension, suite)
  return {
    id: `${spec.name}/${check.name}`,
    scenario: spec.name,
    check: check.name,
    extension,
    outcome: verdict.outcome,
    summary: verdict.summary,
    expected: check.expected,
    happened: ('happened' in verdict ? verdict.happened : undefined) ?? verdict.summary,
    fix: verdict.outcome === 'fail' ? verdict.fix : '',
    ...(verdict.outcome === 'fail' && verdict.blockedBy !== undefined ? { blockedBy: verdict.blockedBy } : {}),
    data: verdict.data ?? {},
  }
}

/**
 * A failure that follows from another check's failure is reported there: it becomes a skip naming
 * that check. If that check passed or did not run, nothing else explains it and it stays a failure.
 */
export function resolveBlocked(results: CheckResult[]): CheckResult[] {
  const byKey = new Map(results.map((r) => [`${r.extension}\0${r.id}`, r]))
  const owner = (result: CheckResult) => (result.blockedBy === undefined ? undefined : byKey.get(`${result.extension}\0${result.blockedBy}`))
  // Explained when its owner failed too, whatever becomes of the owner (a failure, or a skip that
  // points further down a chain that ends in one), unless the chain runs back to it.
  const explained = (result: CheckResult): boolean => {
    const seen = new Set<CheckResult>([result])
    let current = owner(result)
    if (result.outcome !== 'fail' || current === undefined || current.outcome !== 'fail') {
      return false
    }
    while (current !== undefined && current.outcome === 'fail' && current.blockedBy !== undefined) {
      if (seen.has(current)) {
        return false
      }
      seen.add(current)
      current = owner(current)
    }
    return true
  }
  return results.map((result) => {
    if (explained(result)) {
      return { ...result, outcome: 'skip', summary: `blocked: ${result.summary} (reported by ${result.blockedBy})` }
    }
    if (result.outcome === 'fail' && result.blockedBy !== undefined) {
      // Nothing else reports it: the failure stands here, without the pointer.
      const { blockedBy: _ignored, ...rest } = result
      return rest
    }
    return result
  })
}

/** The longest a scenario of the first wave waits for the one started before it to boot. */
const BOOT_GATE_MS = 250
const NEVER = new Promise<never>(() => undefined)

/**
 * Runs `work` over `items`, started in `order` (indexes), at most `limit` at a time, keeping the
 * items' order in the results. On the first error it aborts `controller` (the rest stop early),
 * lets every started item finish, and throws that error: no sandbox is left running behind a
 * failed run. `work` calls `booted` once its sandbox has booted.
 */
async function pool<T, R>(
  items: readonly T[],
  order: readonly number[],
  limit: number,
  controller: AbortController,
  interrupt: AbortSignal | undefined,
  work: (item: T, booted: () => void) => Promise<R>,
): Promise<(R | undefined)[]> {
  const results: (R | undefined)[] = new Array(items.length)
  let next = 0
  let failure: { error: unknown } | undefined
  const slots = Math.min(limit, items.length)
  const started = Array.from({ length: slots }, () => deferred<void>())
  const booted = Array.from({ length: slots }, () => deferred<void>())
  const stop = interrupt === undefined ? controller.signal : AbortSignal.any([controller.signal, interrupt])
  const worker = async (slot: number): Promise<void> => {
    const done = () => booted[slot]!.resolve()
    if (slot > 0) {
      // The first wave boots one at a time, so the longest scenario, started first, boots without
      // the others taking the CPU from it (bench/findings.md, session 11).
      await started[slot - 1]!.promise
      await waitFor(booted[slot - 1]!.promise, { fatal: NEVER, deadline: BOOT_GATE_MS, signal: stop }).catch(() => undefined)
    }
    started[slot]!.resolve()
    while (next < order.length && failure === undefined && interrupt?.aborted !== true) {
      const index = order[next++]!
      try {
        results[index] = await work(items[index]!, done)
      } catch (error) {
        failure ??= { error }
        controller.abort()
      }
      done()
    }
    done()
  }
  await Promise.all(Array.from({ length: slots }, (_unused, slot) => worker(slot)))
  if (failure !== undefined) {
    throw failure.error
  }
  return results
}
