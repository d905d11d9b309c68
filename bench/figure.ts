// One measured figure: the harness's runs and the baseline's runs from the same bench run, and
// their ratio. Every ratio is a cost ratio (harness ÷ baseline for times and memory, baseline ÷
// harness for rates), so 1.00× means "no overhead" and bigger is worse, whatever the unit.
import type { SuiteName } from './config.js'
import { summarise, type Spread } from './stats.js'

export type Unit = 'ms' | 'µs' | 'invokes/s' | 'MB'

export interface Target {
  /** E.g. "≤ 1.15×" or "≤ 1.1× + 5 ms". */
  readonly description: string
  readonly met: boolean
}

export interface Figure {
  readonly suite: SuiteName
  readonly name: string
  readonly unit: Unit
  readonly harness: Spread
  readonly baseline: Spread
  /** Cost ratio of the medians. */
  readonly ratio: number
  /** Harness median minus baseline median, in `unit` (negative for a rate that is lower). */
  readonly overhead: number
  readonly target?: Target
  /** A decomposition row: the same clients the harness runs, against the trivial server. */
  readonly reference?: { readonly label: string; readonly spread: Spread }
  readonly note?: string
}

export interface FigureInput {
  readonly suite: SuiteName
  readonly name: string
  readonly unit: Unit
  readonly harness: readonly number[]
  readonly baseline: readonly number[]
  readonly reference?: { readonly label: string; readonly values: readonly number[] }
  /** Builds the target from the two medians. */
  readonly target?: (harnessMedian: number, baselineMedian: number) => Target
  readonly note?: string
}

export function figure(input: FigureInput): Figure {
  const harness = summarise(input.harness)
  const baseline = summarise(input.baseline)
  const ratio = input.unit === 'invokes/s' ? baseline.median / harness.median : harness.median / baseline.median
  return {
    suite: input.suite,
    name: input.name,
    unit: input.unit,
    harness,
    baseline,
    ratio,
    overhead: harness.median - baseline.median,
    ...(input.target === undefined ? {} : { target: input.target(harness.median, baseline.median) }),
    ...(input.reference === undefined ? {} : { reference: { label: input.reference.label, spread: summarise(input.reference.values) } }),
    ...(input.note === undefined ? {} : { note: input.note }),
  }
}

/** "≤ k×" on the cost ratio. */
export function ratioTarget(limit: number): (h: number, b: number) => Target {
  return (h, b) => ({ description: `≤ ${limit}×`, met: h <= limit * b })
}

/** "≥ baseline ÷ k" for a rate: the same ≤ k× cost ratio. */
export function rateTarget(limit: number): (h: number, b: number) => Target {
  return (h, b) => ({ description: `≤ ${limit}×`, met: b <= limit * h })
}

/** "≤ k× + c ms", the shutdown target. */
export function ratioPlusTarget(limit: number, plusMs: number): (h: number, b: number) => Target {
  return (h, b) => ({ description: `≤ ${limit}× + ${plusMs} ms`, met: h <= limit * b + plusMs })
}

/** "≤ limit", an absolute limit on the harness's median (e.g. a wall time the issue names). */
export function absoluteTarget(limit: number, unit: Unit): (h: number, b: number) => Target {
  return (h) => ({ description: `≤ ${limit} ${unit}`, met: h <= limit })
}
