// The building blocks of option validation: every message names the option, the expectation and
// the actual value (execa's `validateTimeout`).
import { statSync } from 'node:fs'
import path from 'node:path'
import { HarnessError } from '../errors.js'

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

/** A plain object: not null, not an array. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** An existing folder, resolved to an absolute path. */
export function requireDirectory(option: string, value: unknown): string {
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

/** A number from min to max, or the fallback when it was not given. */
export function numberIn(option: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined) {
    return fallback
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalid(option, `a number from ${min} to ${max}`, value)
  }
  return value
}

/** A whole number of MB from min to max; min when it was not given. */
export function megabytesIn(option: string, value: unknown, min: number, max: number): number {
  const megabytes = numberIn(option, value, min, max, min)
  if (!Number.isInteger(megabytes)) {
    throw invalid(option, `a whole number of MB from ${min} to ${max}`, megabytes)
  }
  return megabytes
}

export function optionalBoolean(option: string, value: unknown, fallback: boolean): boolean {
  if (value !== undefined && typeof value !== 'boolean') {
    throw invalid(option, 'true or false', value)
  }
  return (value as boolean | undefined) ?? fallback
}
