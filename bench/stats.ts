// Summaries of repeated measurements: the median and the spread, never a mean that one slow run
// (another job on these 2-core machines) can drag around.

export interface Spread {
  readonly n: number
  readonly median: number
  readonly min: number
  readonly max: number
  readonly p10: number
  readonly p90: number
}

/** Nearest-rank percentile of an ascending array (`q` from 0 to 1). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) {
    return Number.NaN
  }
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank] ?? Number.NaN
}

/** Median of any array: the mean of the middle two for an even count. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  if (sorted.length === 0) {
    return Number.NaN
  }
  return sorted.length % 2 === 1 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2
}

export function summarise(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b)
  return {
    n: sorted.length,
    median: median(sorted),
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
    p10: percentile(sorted, 0.1),
    p90: percentile(sorted, 0.9),
  }
}
