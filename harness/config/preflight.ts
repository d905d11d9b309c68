// The CLI's pre-flight: inputs Lambda only fails on once Init runs (a handler with no module, an
// extension file that is missing or not executable, a runtime command that cannot be executed)
// refused before anything starts. The library leaves them to Init, as Lambda does
// (Runtime.ImportModuleError, Extension.LaunchError, Runtime.InvalidEntrypoint).
import { accessSync, closeSync, constants, existsSync, openSync, readSync, readdirSync, readlinkSync, statSync } from 'node:fs'
import path from 'node:path'
import { HarnessError } from '../errors.js'
import type { ParsedOptions } from './options.js'
import { findBootstrap, NO_BOOTSTRAP_MESSAGE } from './runtime-files.js'

interface ExtensionFileEntry {
  readonly name: string
  readonly path: string
}

/**
 * Throws the first problem found, as a user error naming the input and where it looked.
 * `interpreterPath` is the interpreter's own sys.path: a handler's module may be installed there.
 */
export function preflight(options: ParsedOptions, extensionFiles: readonly ExtensionFileEntry[], interpreterPath: readonly string[] = [], imageRoot?: string): void {
  for (const file of extensionFiles) {
    extensionProblem(file)
  }
  // With an image, the command and the interpreter's sys.path are paths inside it.
  const inRoot = (file: string) => (imageRoot === undefined ? file : path.join(imageRoot, file))
  const command = options.runtimeCommand?.[0]
  if (command !== undefined && command.includes('/') && !executable(inRoot(command))) {
    throw new HarnessError('ERR_BAD_INPUT', `option runtimeCommand: ${JSON.stringify(command)} is not an executable file`)
  }
  if (options.runtimeCommand === undefined && options.profile.family === 'os-only') {
    bootstrapProblem(options)
  } else if (options.runtimeCommand === undefined) {
    handlerProblem(options, interpreterPath.map(inRoot))
  }
}

/** An OS-only runtime's bootstrap: /var/task/bootstrap, else /opt/bootstrap (runtime-files.ts), and executable. */
function bootstrapProblem(options: ParsedOptions): void {
  const found = findBootstrap(options.functionDir, options.layers)
  if (found === undefined) {
    throw new HarnessError(
      'ERR_FILE_NOT_FOUND',
      `option runtime ${options.profile.id}: no bootstrap in the function folder ${options.functionDir} or a layer (Lambda would fail Init with Runtime.InvalidEntrypoint: ${NO_BOOTSTRAP_MESSAGE})`,
    )
  }
  if (!executable(found.hostPath)) {
    throw new HarnessError(
      'ERR_BAD_INPUT',
      `option runtime ${options.profile.id}: ${found.lambdaPath} (${found.hostPath}) is not executable (Lambda would fail Init with Runtime.InvalidEntrypoint)`,
    )
  }
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK)
    return statSync(file).isFile()
  } catch {
    return false
  }
}

/** /opt and /var/task are the sandbox's own folders (the layers, the function): not the host's to check. */
function inSandboxOnly(file: string): boolean {
  return /^\/(opt|var\/task)\//.test(file)
}

function extensionProblem(file: ExtensionFileEntry): void {
  let target: string | undefined
  try {
    target = readlinkSync(file.path)
  } catch {
    // Not a link.
  }
  if (target !== undefined && inSandboxOnly(target)) {
    // Only the launch can tell.
    return
  }
  if (!existsSync(file.path)) {
    // Only a link can be listed and not exist.
    throw new HarnessError('ERR_FILE_NOT_FOUND', `extension ${JSON.stringify(file.name)}: ${file.path} links to ${JSON.stringify(target)}, which does not exist`)
  }
  if (!executable(file.path)) {
    throw new HarnessError('ERR_BAD_INPUT', `extension ${JSON.stringify(file.name)}: ${file.path} is not an executable file (Lambda would fail Init with Extension.LaunchError)`)
  }
  const interpreter = shebangInterpreter(file.path)
  if (interpreter !== undefined && !inSandboxOnly(interpreter) && !existsSync(interpreter)) {
    throw new HarnessError('ERR_FILE_NOT_FOUND', `extension ${JSON.stringify(file.name)}: ${missingInterpreterMessage(interpreter)} (Lambda would fail Init with Extension.LaunchError)`)
  }
}

/** The interpreter a script names in its line 1 (`#!/usr/bin/python3 -u` → /usr/bin/python3), if any. */
export function shebangInterpreter(file: string): string | undefined {
  const head = Buffer.alloc(256)
  let length: number
  try {
    const fd = openSync(file, 'r')
    try {
      length = readSync(fd, head, 0, head.length, 0)
    } finally {
      closeSync(fd)
    }
  } catch {
    return undefined
  }
  if (length < 2 || head[0] !== 0x23 || head[1] !== 0x21) {
    return undefined
  }
  const line = head.toString('latin1', 2, length).split('\n')[0] ?? ''
  const interpreter = line.trim().split(/[ \t]/)[0]
  return interpreter === '' ? undefined : interpreter
}

/** execve's ENOENT names the script, which exists: say it is the interpreter that is missing. */
export function missingInterpreterMessage(interpreter: string): string {
  return `the interpreter in line 1 (#!${interpreter}) is missing`
}

/**
 * Where our runtime client imports the handler's module from: the function folder, each layer's
 * python/ folder, then the interpreter's own sys.path (its standard library and site-packages, as
 * /var/runtime and /var/lang are on Lambda). The module name is the handler up to its last dot,
 * "/" read as "." (awslambdaric).
 */
function handlerProblem(options: ParsedOptions, interpreterPath: readonly string[]): void {
  const modname = options.handler.slice(0, options.handler.lastIndexOf('.'))
  const parts = modname.replaceAll('/', '.').split('.')
  const dirs = [options.functionDir, ...options.layers.filter((layer) => layer.extensionsDir !== layer.root).map((layer) => path.join(layer.root, 'python'))]
  if (!dirs.some((dir) => hasModule(dir, parts)) && !interpreterPath.some((dir) => hasModule(dir, parts))) {
    throw new HarnessError(
      'ERR_FILE_NOT_FOUND',
      `option handler: no module ${JSON.stringify(modname)} for handler ${JSON.stringify(options.handler)} in ${dirs.join(', ')}${interpreterPath.length > 0 ? ' or on the interpreter\'s sys.path' : ''} (Lambda would fail Init with Runtime.ImportModuleError)`,
    )
  }
}

/** A source, bytecode or extension module, or a (namespace) package folder. */
function hasModule(dir: string, parts: readonly string[]): boolean {
  const last = parts.at(-1) ?? ''
  const parent = path.join(dir, ...parts.slice(0, -1))
  if (existsSync(path.join(parent, `${last}.py`)) || existsSync(path.join(parent, `${last}.pyc`))) {
    return true
  }
  if (statSync(path.join(parent, last), { throwIfNoEntry: false })?.isDirectory() === true) {
    return true
  }
  try {
    return readdirSync(parent).some((name) => name.startsWith(`${last}.`) && name.endsWith('.so'))
  } catch {
    return false
  }
}
