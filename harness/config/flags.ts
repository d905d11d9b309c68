// Turning command-line flag values into option values, shared by `run` and `check`.
import { readFileSync } from 'node:fs'
import { HarnessError } from '../errors.js'
import { invalid, RECORD_MODES, RUNTIME_CLIENTS, type BootOptions, type RecordMode, type RuntimeClient } from './options.js'

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

/**
 * Repeated `--env KEY=VALUE` and `--pass-env NAME` flags as one object. Nothing of the host's
 * environment reaches the sandbox unless named here: `--pass-env` copies a host variable (e.g. an
 * endpoint or a token the extension under test needs) on purpose, and one that is not set is an
 * error rather than a silently missing value. An `--env` of the same name wins.
 */
export function parseEnv(pairs: readonly string[], passNames: readonly string[] = [], host: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {}
  for (const name of passNames) {
    const value = host[name]
    if (value === undefined) {
      throw invalid('--pass-env', 'the name of a variable set in this environment', name)
    }
    env[name] = value
  }
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    if (eq <= 0) {
      throw invalid('--env', 'KEY=VALUE', pair)
    }
    env[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  return env
}

/** Repeated `--parameter-overrides Key=Value` flags (each may hold several, space-separated, as SAM's). */
export function parseParameterOverrides(values: readonly string[]): Record<string, string> {
  const parameters: Record<string, string> = {}
  for (const pair of values.flatMap((value) => value.split(/\s+/)).filter((p) => p !== '')) {
    const eq = pair.indexOf('=')
    if (eq <= 0) {
      throw invalid('--parameter-overrides', 'Key=Value', pair)
    }
    parameters[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  return parameters
}

/** A template file's text, for `--template`. */
export function readTemplateText(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (error) {
    throw new HarnessError('ERR_FILE_NOT_FOUND', `option --template: cannot read ${JSON.stringify(file)} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error })
  }
}

/** `--image <dir|tar>` and `--runtime-client <client>`, as boot options. */
export function imageFlags(values: { image?: string | undefined; 'runtime-client'?: string | undefined }): Pick<BootOptions, 'image' | 'runtimeClient'> {
  const client = values['runtime-client']
  if (client !== undefined && !RUNTIME_CLIENTS.includes(client as RuntimeClient)) {
    throw invalid('--runtime-client', RUNTIME_CLIENTS.join(' | '), client)
  }
  return {
    ...(values.image === undefined ? {} : { image: values.image }),
    ...(client === undefined ? {} : { runtimeClient: client as RuntimeClient }),
  }
}

/** A warning as every command prints one, `lambda-harness: warning: <message>`, handed to `write` (stderr). */
export function warningWriter(write: (text: string) => unknown): (message: string) => void {
  return (message) => {
    write(`lambda-harness: warning: ${message}\n`)
  }
}

/** `--record full|summary`, as a boot option. */
export function recordFlag(value: string | undefined): Pick<BootOptions, 'record'> {
  if (value === undefined) {
    return {}
  }
  if (!RECORD_MODES.includes(value as RecordMode)) {
    throw invalid('--record', RECORD_MODES.join(' | '), value)
  }
  return { record: value as RecordMode }
}
