// The CLI's code, compiled with V8's code cache. A `run` spent as long compiling its code (each
// function on its first and only call) as running it, and Node 20 caches no ES module's code
// (bench/findings.md). The build bundles cli/main.ts into one CommonJS file, main.cjs, which is
// compiled here with the cache the last run of the same command left in
// ~/.cache/lambda-harness/code; a run that found none, or one V8 refused (another Node, other
// flags), leaves its own at its exit, with every function it compiled.
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import vm from 'node:vm'
import { privateCacheFolder, writeCacheFile } from '../cache.js'
import { ESM_IMPORT } from '../esm-import.js'
import { COMMAND_NAMES, isHelp } from './commands.js'

export type Main = (argv: string[]) => Promise<number>

/** A cache per command: each compiles a different part of the bundle. A mistyped command gets none. */
function cacheName(command: string | undefined): string | undefined {
  if (isHelp(command)) {
    return 'help'
  }
  return COMMAND_NAMES.includes(command!) ? command : undefined
}

/** The bundle's `main`, or tsc's unbundled module where there is no bundle (a build without `npm run bundle`). */
export async function loadMain(command: string | undefined): Promise<Main> {
  const bundle = fileURLToPath(new URL('./main.cjs', import.meta.url))
  let source: string
  let key: string
  try {
    source = readFileSync(bundle, 'utf8')
    const stat = statSync(bundle)
    // V8 checks its version, its flags and the source's length, not its text: a rebuilt bundle needs a key of its own.
    key = `${process.versions.v8}-${process.arch}-${stat.size}-${Math.round(stat.mtimeMs * 1000)}-${stat.ino}`
  } catch {
    return ((await import('./main.js')) as { main: Main }).main
  }
  const name = cacheName(command)
  const folder = name === undefined ? undefined : privateCacheFolder('code')
  const cacheFile = folder === undefined ? undefined : path.join(folder, `${name}-${key}`)
  let cachedData: Buffer | undefined
  try {
    cachedData = cacheFile === undefined ? undefined : readFileSync(cacheFile)
  } catch {
    // None yet.
  }
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: bundle,
    // No importModuleDynamically: code from a cache loses it (Node 20); the build turns import() into require().
    ...(cachedData === undefined ? {} : { cachedData }),
  })
  if (cacheFile !== undefined && (cachedData === undefined || script.cachedDataRejected === true)) {
    // At the exit: the cache then holds every function the command compiled, not only the top level.
    process.once('exit', () => saveCache(script, cacheFile, `${name}-${process.versions.v8}-`))
  }
  // The bundle's import() is require(): what must load as an ES module comes through here (esm-import.ts).
  ;(globalThis as Record<symbol, unknown>)[ESM_IMPORT] = (specifier: string) => import(specifier)
  const module = { exports: {} as { main?: Main } }
  const wrapper = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: object, filename: string, dirname: string) => void
  wrapper(module.exports, createRequire(bundle), module, bundle, path.dirname(bundle))
  return module.exports.main!
}

/**
 * Writes the cache and drops the command's caches of other bundles on this V8, those named from
 * `sameNode` on (another Node's are kept: one user may switch between two); a cache that cannot be
 * written only costs the next run its compile.
 */
function saveCache(script: vm.Script, cacheFile: string, sameNode: string): void {
  try {
    if (!writeCacheFile(cacheFile, script.createCachedData())) {
      return
    }
    const folder = path.dirname(cacheFile)
    for (const name of readdirSync(folder)) {
      if (name.startsWith(sameNode) && name !== path.basename(cacheFile) && !name.endsWith('.tmp')) {
        rmSync(path.join(folder, name), { force: true })
      }
    }
  } catch {
    // As above.
  }
}
