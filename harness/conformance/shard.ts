// `check` over several targets, and one shard of them per CI job (`--shard i/n`, Playwright's and
// Jest's convention): the (target, scenario) pairs in a fixed order, cut into n contiguous slices
// whose sizes differ by at most one, so every pair runs in exactly one job and the jobs' JUnit
// files merge into the suites one unsharded run writes.
import { invalid } from '../config/options.js'
import { runCheck, type CheckHooks, type CheckReport } from './runner.js'
import { validateCheckOptions, type CheckOptions } from './options.js'
import type { ScenarioName } from './types.js'

export interface Shard {
  /** 1-based, as the flag. */
  readonly index: number
  readonly total: number
}

/** `i/n` with 1 ≤ i ≤ n. */
export function parseShard(value: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(value.trim())
  const index = Number(match?.[1])
  const total = Number(match?.[2])
  if (match === null || total < 1 || index < 1 || index > total) {
    throw invalid('--shard', 'i/n with 1 ≤ i ≤ n (e.g. 2/4)', value)
  }
  return { index, total }
}

/** The items of shard `index` of `total`: Playwright's split (the first `length % total` slices one longer). */
export function shardSlice<T>(items: readonly T[], shard: Shard): T[] {
  const size = Math.floor(items.length / shard.total)
  const extra = items.length % shard.total
  const i = shard.index - 1
  const start = i * size + Math.min(i, extra)
  return items.slice(start, start + size + (i < extra ? 1 : 0))
}

export interface ShardPlan {
  readonly target: string
  readonly scenarios: readonly ScenarioName[]
}

/** Which scenarios of which target this shard runs, targets in the given order. */
export function planShard(targets: readonly string[], scenarios: readonly ScenarioName[], shard: Shard | undefined): ShardPlan[] {
  const pairs = targets.flatMap((target) => scenarios.map((scenario) => ({ target, scenario })))
  const mine = shard === undefined ? pairs : shardSlice(pairs, shard)
  return targets
    .map((target) => ({ target, scenarios: mine.filter((p) => p.target === target).map((p) => p.scenario) }))
    .filter((plan) => plan.scenarios.length > 0)
}

/**
 * `runCheck` for each target this shard has scenarios of, one target after another. `options.target`
 * is ignored: `targets` names them. An empty list when the shard has nothing to run (more shards than pairs).
 */
export async function runCheckTargets(options: CheckOptions, targets: readonly string[], shard: Shard | undefined, hooks: CheckHooks = {}): Promise<CheckReport[]> {
  if (targets.length === 0) {
    throw invalid('check <target>', 'one or more extension files, layer folders or layer .zips', undefined)
  }
  const { scenarios } = validateCheckOptions({ ...options, target: targets[0]! })
  const reports: CheckReport[] = []
  for (const plan of planShard(targets, scenarios, shard)) {
    if (hooks.interrupt?.aborted === true && reports.length > 0) {
      // Interrupted: the targets not begun are not run (the one in progress reports what it finished).
      break
    }
    reports.push(await runCheck({ ...options, target: plan.target, only: plan.scenarios }, hooks))
  }
  return reports
}
