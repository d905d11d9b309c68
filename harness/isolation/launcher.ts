// The launcher a sandbox process starts through (enter.c, or enter.py without a C compiler) when
// the sandbox's holder (hold.c) does not start it: in plain mode always, in a bwrap sandbox only
// without a compiled holder. It reports the real process's host pid on fd 3, puts it in its own
// process group, and reports how it ended. In a bwrap sandbox it first joins the sandbox's
// namespaces and ends with the process; in plain mode it is a child subreaper that holds the
// daemons the process forked until the sandbox is over (a SIGTERM to it) and SIGKILLs that whole
// tree, setsid daemons included, if the harness dies (what the PID namespace does for a bwrap
// sandbox). See enter.py.
import { accessSync, constants as fsConstants, statSync } from 'node:fs'
import { constants } from 'node:os'
import { once } from 'node:events'
import path from 'node:path'
import { builtForThisMachine } from '../native.js'
import { PACKAGE_ROOT } from '../paths.js'
import type { LaunchedExit, LaunchFailure, Launcher, SpawnSpec } from '../supervisor/supervisor.js'

export const ENTER_SCRIPT = path.join(PACKAGE_ROOT, 'harness', 'isolation', 'enter.py')
/** The same program compiled from enter.c by `make build`: ~15 ms per process start instead of ~95 ms. */
export const ENTER_SOURCE = path.join(PACKAGE_ROOT, 'harness', 'isolation', 'enter.c')
export const ENTER_BINARY = path.join(PACKAGE_ROOT, 'dist', 'harness', 'isolation', 'enter')

/** How to run the launcher: the arguments come before its own. */
export interface LauncherCommand {
  readonly file: string
  readonly args: readonly string[]
}

/** A bwrap sandbox's holder (hold.c), compiled by `make build`; it starts the sandbox's processes itself. */
export const HOLDER_SOURCE = path.join(PACKAGE_ROOT, 'harness', 'isolation', 'hold.c')
export const HOLDER_BINARY = path.join(PACKAGE_ROOT, 'dist', 'harness', 'isolation', 'hold')

/** The compiled launcher when `make build` made it from the current source, else enter.py; undefined without either. */
export function launcherCommand(pythons: readonly string[]): LauncherCommand | undefined {
  if (isCompiled(ENTER_BINARY, ENTER_SOURCE)) {
    return { file: ENTER_BINARY, args: [] }
  }
  const python = pythons.map(findExecutable).find((found) => found !== undefined)
  // -I -S: no site, no PYTHON* variables (the process's environment has the sandbox's PYTHONPATH).
  return python === undefined ? undefined : { file: python, args: ['-I', '-S', ENTER_SCRIPT] }
}

/** The compiled holder when `make build` made it from the current source; undefined without (a shell holds instead). */
export function holderBinary(): string | undefined {
  return isCompiled(HOLDER_BINARY, HOLDER_SOURCE) ? HOLDER_BINARY : undefined
}

/** An executable built from `source` no earlier than the source's last change. */
function isCompiled(binary: string, source: string): boolean {
  const built = statSync(binary, { throwIfNoEntry: false })
  const changed = statSync(source, { throwIfNoEntry: false })
  // A packaged binary of another architecture is never used (native.ts).
  return built !== undefined && (changed === undefined || built.mtimeMs >= changed.mtimeMs) && findExecutable(binary) !== undefined && builtForThisMachine(binary)
}

/**
 * Starts each spec through the launcher: into the namespaces of the process `namespacePid` (a
 * bwrap sandbox's pid 1), or, without one, as a plain host process the launcher watches over.
 */
export function enterLauncher(launcher: LauncherCommand, namespacePid: number | undefined): Launcher {
  return {
    command: (spec: SpawnSpec) => ({
      file: launcher.file,
      args: [...launcher.args, namespacePid === undefined ? '-' : String(namespacePid), String(process.pid), spec.cwd, spec.file, ...spec.args],
      cwd: '/',
    }),
    started: readControl,
  }
}

/**
 * The launcher's lines on fd 3: `pid <n>` (or `error <CODE> <message>`; EOF first is a failure
 * too), then `exit code <n>` or `exit signal <n>` once the process has ended.
 */
function readControl(control: NodeJS.ReadableStream): Promise<{ pid: number; ended: Promise<LaunchedExit | undefined> } | LaunchFailure> {
  const lines: string[] = []
  let pending = ''
  let onLine: (() => void) | undefined
  control.setEncoding('utf8')
  control.on('data', (chunk: string) => {
    const parts = (pending + chunk).split('\n')
    pending = parts.pop() ?? ''
    lines.push(...parts)
    onLine?.()
  })
  control.on('error', () => undefined)
  const closed = Promise.race([once(control, 'end'), once(control, 'close')]).catch(() => undefined)
  const line = (index: number): Promise<string | undefined> =>
    lines.length > index
      ? Promise.resolve(lines[index])
      : Promise.race([new Promise<void>((resolve) => (onLine = resolve)), closed]).then(() => (lines.length > index ? lines[index] : undefined))
  return line(0).then((first = '') => {
    const pid = /^pid (\d+)$/.exec(first)
    if (pid !== null) {
      return { pid: Number(pid[1]), ended: line(1).then(parseExit) }
    }
    const error = /^error (\S+) (.*)$/.exec(first)
    if (error !== null) {
      return { code: error[1]!, message: error[2]!, cause: first }
    }
    return { code: 'UNKNOWN', message: `the sandbox launcher ended without starting the process${first === '' ? '' : ` (${first})`}`, cause: first }
  })
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, number]) => [number, name as NodeJS.Signals]))

function parseExit(line: string | undefined): LaunchedExit | undefined {
  const exit = /^exit (code|signal) (\d+)$/.exec(line ?? '')
  return exit === null ? undefined : launchedExit(exit[1] as 'code' | 'signal', Number(exit[2]))
}

/** An end as the launcher and the holder report it: `code <n>` or `signal <n>`. */
export function launchedExit(kind: 'code' | 'signal', number: number): LaunchedExit {
  return kind === 'code' ? { code: number, signal: null } : { code: null, signal: SIGNAL_NAMES.get(number) ?? null }
}

/** An executable by path, or by name on PATH. */
export function findExecutable(command: string): string | undefined {
  const candidates = command.includes('/')
    ? [command]
    : (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':').filter((dir) => dir !== '').map((dir) => path.join(dir, command))
  return candidates.find((candidate) => {
    try {
      accessSync(candidate, fsConstants.X_OK)
      return true
    } catch {
      return false
    }
  })
}
