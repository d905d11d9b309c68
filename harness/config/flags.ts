// Turning command-line flag values into option values, shared by `run` and `check`.
import { invalid } from './options.js'

/** A numeric flag, or undefined when it was not given. */
export function numberFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) {
    return undefined
  }
  const parsed = Number(value)
  if (value.trim() === '' || !Number.isFinite(parsed)) {
    throw invalid(`--${name}`, 'a number', value)
  }
  return parsed
}

/** Repeated `--env KEY=VALUE` flags as an object. */
export function parseEnv(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {}
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    if (eq <= 0) {
      throw invalid('--env', 'KEY=VALUE', pair)
    }
    env[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  return env
}
