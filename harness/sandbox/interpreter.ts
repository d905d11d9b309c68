// What the user's interpreter means for a sandbox: a warning when its version is not the
// profile's, the folders of it that stay visible inside, and the variables it needs.
import { realpathSync } from 'node:fs'
import path from 'node:path'
import type { ParsedOptions } from '../config/options.js'
import type { PythonInfo } from './python-info.js'

export function interpreterWarnings(options: ParsedOptions, python: PythonInfo | undefined): string[] {
  if (python === undefined) {
    return []
  }
  const minor = python.version.split('.').slice(0, 2).join('.')
  if (minor === options.profile.pythonVersion) {
    return []
  }
  return [
    `profile ${options.profile.id} runs on ${python.command} (Python ${python.version}); Lambda would run Python ${options.profile.pythonVersion}. ` +
      'The profile decides the platform behaviour (Unicode, SIGTERM, AWS_EXECUTION_ENV); the language is your interpreter\'s',
  ]
}

/**
 * The interpreter's own folders (its bin, its prefix, its sys.path): they stay visible when they
 * lie under a hidden private folder (pyenv's under /root/.pyenv, a venv in a home folder).
 */
export function interpreterPaths(python: PythonInfo | undefined): string[] {
  if (python === undefined || python.executable === '') {
    return []
  }
  const bin = path.dirname(python.executable)
  let prefix = path.dirname(bin)
  try {
    prefix = path.dirname(path.dirname(realpathSync(python.executable)))
  } catch {
    // Not resolvable: the folder as given.
  }
  return [bin, path.dirname(bin), prefix, ...python.sysPath.filter((folder) => path.isAbsolute(folder))]
}

/** Lambda's Python 3.13+ is built without the experimental JIT; keep it off on any interpreter. */
export function jitEnv(python: PythonInfo | undefined): Record<string, string> {
  if (python === undefined) {
    return {}
  }
  const [major = 0, minor = 0] = python.version.split('.').map(Number)
  return major > 3 || (major === 3 && minor >= 13) ? { PYTHON_JIT: '0' } : {}
}
