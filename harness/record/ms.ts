// Milliseconds as the record keeps them: three decimals, rounded once (sums of rounded values are not).
/** ms to the microsecond, as RAPID's durations: Lambda prints `7.462`, never `7.461999999999989`. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000
}
