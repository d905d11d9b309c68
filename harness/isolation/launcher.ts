// The package's two C helpers and the programs the sandbox looks up on PATH. The holder (hold.c)
// is a bwrap sandbox's command and starts its processes (holder.ts); the launcher (enter.c) starts
// each plain-mode process (plain-host.ts). `make setup` (and the npm package's prepack) builds
// both; a package ships them prebuilt and static (native.ts).
import { execFile } from 'node:child_process'
import { accessSync, constants as fsConstants } from 'node:fs'
import { constants } from 'node:os'
import path from 'node:path'
import { HarnessError } from '../errors.js'
import { builtForThisMachine } from '../native.js'
import { PACKAGE_ROOT } from '../paths.js'
import type { LaunchedExit } from '../supervisor/supervisor.js'

export const ENTER_BINARY = path.join(PACKAGE_ROOT, 'dist', 'harness', 'isolation', 'enter')
export const HOLDER_BINARY = path.join(PACKAGE_ROOT, 'dist', 'harness', 'isolation', 'hold')

/** `binary` when it runs here; else a clear error naming how to build it. */
export function nativeHelper(binary: string): string {
  if (findExecutable(binary) === undefined || !builtForThisMachine(binary)) {
    throw new HarnessError(
      'ERR_SPAWN_FAILED',
      `the sandbox helper ${binary} is not built for this machine (${process.arch}): run \`make setup\` (or \`make -s launcher\`) in ${PACKAGE_ROOT}; it needs a C compiler (Debian: apt-get install gcc)`,
    )
  }
  return binary
}

export interface Bwrap {
  readonly file: string
  /**
   * bwrap 0.8 added --disable-userns; older ones (Ubuntu 22.04's 0.6) still isolate, without it.
   * `bwrap --version` runs when bwrap is looked up, without blocking: the boot awaits it only at bwrap's start.
   */
  readonly disablesUserns: Promise<boolean>
}

let bwrapLookup: { readonly path: string | undefined; readonly found: Bwrap | undefined } | undefined

/** bwrap on PATH, looked up once per PATH: a walk of it on every boot finds the same file. */
export function findBwrap(): Bwrap | undefined {
  if (bwrapLookup === undefined || bwrapLookup.path !== process.env.PATH) {
    const file = findExecutable('bwrap')
    bwrapLookup = { path: process.env.PATH, found: file === undefined ? undefined : { file, disablesUserns: hasDisableUserns(file) } }
  }
  return bwrapLookup.found
}

function hasDisableUserns(bwrap: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(bwrap, ['--version'], { encoding: 'utf8', timeout: 5_000 }, (error, stdout) => {
      const version = error === null ? /(\d+)\.(\d+)/.exec(stdout) : null
      resolve(version !== null && (Number(version[1]) > 0 || Number(version[2]) >= 8))
    })
  })
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, number]) => [number, name as NodeJS.Signals]))

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
