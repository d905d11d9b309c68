// What every suite gets: the configuration, the workspace that tracks what it starts, a progress
// line writer, and the one timing primitive.
import { performance } from 'node:perf_hooks'
import type { BenchConfig } from '../config.js'
import type { Workspace } from '../workspace.js'

export interface SuiteContext {
  readonly config: BenchConfig
  readonly workspace: Workspace
  /** Progress for the terminal (stderr), never part of the results. */
  progress(message: string): void
}

/** Milliseconds `operation` took, and its value. */
export async function timed<T>(operation: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const startedAt = performance.now()
  const value = await operation()
  return { ms: performance.now() - startedAt, value }
}

/** Runs the two sides of one pair in alternating order, so drift in machine load hits both alike. */
export async function paired(run: number, first: () => Promise<void>, second: () => Promise<void>): Promise<void> {
  if (run % 2 === 0) {
    await first()
    await second()
  } else {
    await second()
    await first()
  }
}

/** The sides in a different order each run (a rotation), so drift in machine load hits them all alike. */
export function rotated<T>(sides: readonly T[], run: number): T[] {
  const shift = run % Math.max(1, sides.length)
  return [...sides.slice(shift), ...sides.slice(0, shift)]
}
