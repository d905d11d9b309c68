// The bench's knobs: flags first, then BENCH_* variables, then the defaults (full) or the tiny
// preset (`--tiny`, for the test that keeps the bench from rotting).
import path from 'node:path'
import { parseArgs } from 'node:util'
import { PACKAGE_ROOT } from '../harness/paths.js'

export const SUITES = ['boot', 'invoke', 'shutdown', 'scale', 'memory', 'cli', 'check'] as const
export type SuiteName = (typeof SUITES)[number]
const ISOLATIONS = ['auto', 'bwrap', 'none'] as const
export type Isolation = (typeof ISOLATIONS)[number]

export interface BenchConfig {
  readonly tiny: boolean
  readonly suites: readonly SuiteName[]
  /** Interpreter for every Python process, harness and baseline alike (no pyenv shim: ~0.5 s a start). */
  readonly python: string
  /** The harness's `isolation` option; undefined leaves the harness's default. */
  readonly isolation: Isolation | undefined
  /** Extension counts for the boot and shutdown configurations (runtime + N extensions). */
  readonly extensionCounts: readonly number[]
  /** Untimed boots of each side before a configuration's timed ones. */
  readonly warmupBoots: number
  /** Paired (harness, baseline) boots per configuration. */
  readonly bootRuns: number
  /** Runs of `invokes` invokes per configuration and side. */
  readonly invokeRuns: number
  readonly invokes: number
  /** Untimed invokes before each timed run. */
  readonly warmupInvokes: number
  /**
   * Invokes each side runs once, first in the process, before the timed runs: V8 optimises the
   * per-invoke code only after ~1,000–1,500 invokes (p50 ~1 ms before, ~0.3 ms after). Their
   * p50 is reported as its own figure, so the timed runs compare steady states.
   */
  readonly processWarmupInvokes: number
  /**
   * Untimed sandboxes of `invokes` invokes each side runs after those, before the timed runs:
   * the harness's CPU per invoke keeps falling over its first few sandboxes in a process (V8
   * re-optimises after the second sandbox's "wrong map" deopts: 779, 404, 370, 258, 198 µs per
   * invoke over five fresh sandboxes after 2,000 first invokes, bench/findings.md).
   */
  readonly warmupSandboxes: number
  readonly shutdownRuns: number
  /** Sandbox counts booted and shut down concurrently. */
  readonly scaleCounts: readonly number[]
  readonly scaleRuns: number
  /** Sandboxes booted per memory probe, and probe runs per side. */
  readonly memorySandboxes: number
  readonly memoryRuns: number
  /** Paired (CLI, floor) runs of `lambda-harness run` per configuration, each a fresh process. */
  readonly cliRuns: number
  /** Runs of `lambda-harness check` per extension. */
  readonly checkRuns: number
  /** Where RESULTS.md goes; `-` prints nothing to a file. */
  readonly outFile: string
  /** Raw results as JSON, when set. */
  readonly jsonFile: string | undefined
}

const FULL = {
  extensionCounts: [0, 1, 5],
  warmupBoots: 1,
  bootRuns: 8,
  invokeRuns: 3,
  invokes: 1000,
  warmupInvokes: 50,
  processWarmupInvokes: 2000,
  warmupSandboxes: 4,
  shutdownRuns: 8,
  scaleCounts: [1, 10, 50],
  scaleRuns: 2,
  memorySandboxes: 10,
  memoryRuns: 2,
  cliRuns: 15,
  checkRuns: 3,
}

// Every suite and side runs, on the smallest configurations: what the test needs to see numbers.
const TINY: typeof FULL = {
  extensionCounts: [0, 1],
  warmupBoots: 0,
  bootRuns: 1,
  invokeRuns: 1,
  invokes: 20,
  warmupInvokes: 2,
  processWarmupInvokes: 10,
  warmupSandboxes: 1,
  shutdownRuns: 1,
  scaleCounts: [2],
  scaleRuns: 1,
  memorySandboxes: 1,
  memoryRuns: 1,
  cliRuns: 1,
  checkRuns: 1,
}

export const DEFAULT_OUT_FILE = path.join(PACKAGE_ROOT, 'bench', 'RESULTS.md')

const USAGE = `usage: node dist/bench/run.js [options]
  --tiny                  a few iterations of everything (BENCH_TINY=1)
  --only LIST             suites to run: ${SUITES.join(',')} (BENCH_ONLY)
  --boot-runs N           boots per configuration and side (BENCH_BOOT_RUNS, default ${FULL.bootRuns})
  --invoke-runs N         runs of --invokes invokes per configuration and side (BENCH_INVOKE_RUNS, default ${FULL.invokeRuns})
  --invokes N             invokes per run (BENCH_INVOKES, default ${FULL.invokes})
  --process-warmup N      invokes per side first in the process, reported on their own (BENCH_PROCESS_WARMUP, default ${FULL.processWarmupInvokes})
  --warmup-sandboxes N    then untimed sandboxes of --invokes invokes per side (BENCH_WARMUP_SANDBOXES, default ${FULL.warmupSandboxes})
  --shutdown-runs N       shutdowns per configuration and side (BENCH_SHUTDOWN_RUNS, default ${FULL.shutdownRuns})
  --scale LIST            concurrent sandbox counts (BENCH_SCALE, default ${FULL.scaleCounts.join(',')})
  --scale-runs N          runs per count and side (BENCH_SCALE_RUNS, default ${FULL.scaleRuns})
  --memory-sandboxes N    sandboxes per memory probe (BENCH_MEMORY_SANDBOXES, default ${FULL.memorySandboxes})
  --memory-runs N         memory probes per side (BENCH_MEMORY_RUNS, default ${FULL.memoryRuns})
  --cli-runs N            paired runs of \`lambda-harness run\` and its floor per configuration (BENCH_CLI_RUNS, default ${FULL.cliRuns})
  --check-runs N          runs of \`lambda-harness check\` per extension (BENCH_CHECK_RUNS, default ${FULL.checkRuns})
  --python PATH           interpreter (BENCH_PYTHON, default /usr/bin/python3)
  --isolation MODE        the harness's isolation: ${ISOLATIONS.join(', ')} (BENCH_ISOLATION, default: the harness's)
  --out FILE              RESULTS.md path, or - for none (BENCH_OUT, default bench/RESULTS.md)
  --json FILE             also write the raw results as JSON (BENCH_JSON)`

export class BenchUsageError extends Error {
  override readonly name = 'BenchUsageError'
  readonly usage = USAGE
}

function positiveInteger(option: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') {
    return fallback
  }
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1) {
    throw new BenchUsageError(`option ${option}: expected a whole number ≥ 1, got ${JSON.stringify(raw)}`)
  }
  return value
}

function integerList(option: string, raw: string | undefined, fallback: readonly number[]): readonly number[] {
  if (raw === undefined || raw === '') {
    return fallback
  }
  return raw.split(',').map((part) => positiveInteger(option, part.trim(), 0))
}

function suiteList(raw: string | undefined): readonly SuiteName[] {
  if (raw === undefined || raw === '') {
    return SUITES
  }
  const names = raw.split(',').map((part) => part.trim())
  for (const name of names) {
    if (!(SUITES as readonly string[]).includes(name)) {
      throw new BenchUsageError(`option --only: expected some of ${SUITES.join(', ')}, got ${JSON.stringify(name)}`)
    }
  }
  return SUITES.filter((suite) => names.includes(suite))
}

export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): BenchConfig {
  let values
  try {
    ;({ values } = parseArgs({
      args: [...argv],
      options: {
        tiny: { type: 'boolean' },
        only: { type: 'string' },
        'boot-runs': { type: 'string' },
        'invoke-runs': { type: 'string' },
        invokes: { type: 'string' },
        'process-warmup': { type: 'string' },
        'warmup-sandboxes': { type: 'string' },
        'shutdown-runs': { type: 'string' },
        scale: { type: 'string' },
        'scale-runs': { type: 'string' },
        'memory-sandboxes': { type: 'string' },
        'memory-runs': { type: 'string' },
        'cli-runs': { type: 'string' },
        'check-runs': { type: 'string' },
        python: { type: 'string' },
        isolation: { type: 'string' },
        out: { type: 'string' },
        json: { type: 'string' },
        help: { type: 'boolean' },
      },
    }))
  } catch (error) {
    throw new BenchUsageError((error as Error).message)
  }
  if (values.help === true) {
    throw new BenchUsageError('')
  }
  const tiny = values.tiny ?? (env.BENCH_TINY !== undefined && env.BENCH_TINY !== '' && env.BENCH_TINY !== '0')
  const preset = tiny ? TINY : FULL
  const pick = (flag: string | undefined, name: string) => flag ?? env[name]
  const isolation = pick(values.isolation, 'BENCH_ISOLATION')
  if (isolation !== undefined && !(ISOLATIONS as readonly string[]).includes(isolation)) {
    throw new BenchUsageError(`option --isolation: expected one of ${ISOLATIONS.join(', ')}, got ${JSON.stringify(isolation)}`)
  }
  const invokes = positiveInteger('--invokes', pick(values.invokes, 'BENCH_INVOKES'), preset.invokes)
  return {
    tiny,
    suites: suiteList(pick(values.only, 'BENCH_ONLY')),
    python: pick(values.python, 'BENCH_PYTHON') ?? '/usr/bin/python3',
    isolation: isolation as Isolation | undefined,
    extensionCounts: preset.extensionCounts,
    warmupBoots: preset.warmupBoots,
    bootRuns: positiveInteger('--boot-runs', pick(values['boot-runs'], 'BENCH_BOOT_RUNS'), preset.bootRuns),
    invokeRuns: positiveInteger('--invoke-runs', pick(values['invoke-runs'], 'BENCH_INVOKE_RUNS'), preset.invokeRuns),
    invokes,
    warmupInvokes: Math.min(preset.warmupInvokes, invokes),
    processWarmupInvokes: positiveInteger('--process-warmup', pick(values['process-warmup'], 'BENCH_PROCESS_WARMUP'), preset.processWarmupInvokes),
    warmupSandboxes: positiveInteger('--warmup-sandboxes', pick(values['warmup-sandboxes'], 'BENCH_WARMUP_SANDBOXES'), preset.warmupSandboxes),
    shutdownRuns: positiveInteger('--shutdown-runs', pick(values['shutdown-runs'], 'BENCH_SHUTDOWN_RUNS'), preset.shutdownRuns),
    scaleCounts: integerList('--scale', pick(values.scale, 'BENCH_SCALE'), preset.scaleCounts),
    scaleRuns: positiveInteger('--scale-runs', pick(values['scale-runs'], 'BENCH_SCALE_RUNS'), preset.scaleRuns),
    memorySandboxes: positiveInteger('--memory-sandboxes', pick(values['memory-sandboxes'], 'BENCH_MEMORY_SANDBOXES'), preset.memorySandboxes),
    memoryRuns: positiveInteger('--memory-runs', pick(values['memory-runs'], 'BENCH_MEMORY_RUNS'), preset.memoryRuns),
    cliRuns: positiveInteger('--cli-runs', pick(values['cli-runs'], 'BENCH_CLI_RUNS'), preset.cliRuns),
    checkRuns: positiveInteger('--check-runs', pick(values['check-runs'], 'BENCH_CHECK_RUNS'), preset.checkRuns),
    outFile: pick(values.out, 'BENCH_OUT') ?? DEFAULT_OUT_FILE,
    jsonFile: pick(values.json, 'BENCH_JSON'),
  }
}
