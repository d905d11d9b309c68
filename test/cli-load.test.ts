// How `lambda-harness` loads its code: cli.js compiles the one-file bundle (cli/main.cjs) with the
// V8 code cache a previous run of the same command left in the user's private cache folder, and
// leaves one where there was none or V8 refused it (cli/load.ts). Real CLI processes.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import path from 'node:path'
import t from 'tap'
import { CLI, cli, tempDir } from './cli-process.js'
import { PYTHON, ROOT, fn } from './helpers.js'

const BUNDLE = path.join(path.dirname(CLI), 'cli', 'main.cjs')
const PACKAGES = Object.keys((JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies)

/** The cache files in `cacheHome`'s code folder. */
function cached(cacheHome: string): string[] {
  const folder = path.join(cacheHome, 'lambda-harness', 'code')
  return existsSync(folder) ? readdirSync(folder).sort() : []
}

function help(cacheHome: string) {
  return cli(['--help'], { env: { XDG_CACHE_HOME: cacheHome } })
}

t.test('the CLI these tests run is the bundle: cli.js loads main.cjs, which needs only npm packages and Node\'s modules', async (t) => {
  const entry = readFileSync(CLI, 'utf8')
  t.same([...entry.matchAll(/\bfrom\s*["']([^"']+)["']/g)].map((match) => match[1]), ['./cli/load.js'], 'the entry imports the loader alone')
  const source = readFileSync(BUNDLE, 'utf8')
  // Code compiled from a code cache cannot import() (Node 20: ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING).
  t.notMatch(source, /\bimport\(/, 'no import(): every npm package is required')
  const needed = new Set([...source.matchAll(/\brequire\("([^"]+)"\)/g)].map((match) => match[1]!))
  const outside = [...needed].filter((name) => !builtinModules.includes(name.replace(/^node:/, '')) && !PACKAGES.some((pkg) => name === pkg || name.startsWith(`${pkg}/`) || (pkg.endsWith('/*') && name.startsWith(pkg.slice(0, -1)))))
  t.same(outside, [], 'nothing of tsc\'s tree, nothing unbundled but the package\'s dependencies')
  t.notOk(needed.has('execa'), 'execa (ES modules only, which a CommonJS file cannot require) is in the bundle')
  t.notMatch(source, /\bimport\.meta\b/, 'import.meta (undefined in CommonJS) is replaced by the file\'s own URL')
})

t.test('what the bundle loads as an ES module still loads: run --postgres starts the embedded PostgreSQL (its binaries package is ES modules only)', async (t) => {
  const run = await cli(['run', fn('echo'), '--handler', 'app.handler', '--python', PYTHON, '--postgres', '--quiet'])
  t.equal(run.exitCode, 0, run.stderr)
  t.notMatch(run.stderr, /internal error|ERR_PROBE_FAILED/)
})

t.test('a command leaves its code cache; the next run of it uses that cache as it is', async (t) => {
  const home = tempDir(t, 'lh-code-cache-')
  const first = await help(home)
  t.equal(first.exitCode, 0, first.stderr)
  const [file, ...more] = cached(home)
  t.match(file, /^help-/, 'one cache, named for the command')
  t.same(more, [])
  const folder = path.join(home, 'lambda-harness', 'code')
  t.equal(statSync(folder).mode & 0o777, 0o700, 'in a private folder')
  const written = statSync(path.join(folder, file!))
  t.ok(written.size > 10_000, 'holding compiled code')

  const second = await help(home)
  t.equal(second.exitCode, 0)
  t.equal(second.stdout, first.stdout, 'the same output from the cached code')
  const after = statSync(path.join(folder, file!))
  t.same([after.ino, after.mtimeMs], [written.ino, written.mtimeMs], 'accepted: not written again')

  const run = await cli(['init'], { env: { XDG_CACHE_HOME: home } })
  t.equal(run.exitCode, 2, 'init without a folder is bad usage')
  t.same(cached(home).map((name) => name.split('-')[0]), ['help', 'init'], 'each command its own cache')
  t.equal((await cli(['frobnicate'], { env: { XDG_CACHE_HOME: home } })).exitCode, 2)
  t.same(cached(home).map((name) => name.split('-')[0]), ['help', 'init'], 'a mistyped command leaves none')
})

t.test('a cache V8 refuses (damaged, or another Node\'s) is replaced, and the command runs as without one', async (t) => {
  const home = tempDir(t, 'lh-code-cache-')
  const clean = await help(home)
  const [file] = cached(home)
  const folder = path.join(home, 'lambda-harness', 'code')
  const good = readFileSync(path.join(folder, file!))
  writeFileSync(path.join(folder, file!), Buffer.alloc(good.length, 7))
  // Another bundle's cache, as a rebuild leaves behind: dropped once this one is written; another Node's is kept.
  writeFileSync(path.join(folder, `help-${process.versions.v8}-old-bundle`), good)
  writeFileSync(path.join(folder, 'help-9.9.9.9-node.0-another-node'), good)
  const damaged = await help(home)
  t.equal(damaged.exitCode, 0, damaged.stderr)
  t.equal(damaged.stdout, clean.stdout)
  t.same(cached(home), [file, 'help-9.9.9.9-node.0-another-node'].sort(), 'the other bundle\'s cache is gone, the other Node\'s kept')
  t.not(readFileSync(path.join(folder, file!)).compare(Buffer.alloc(good.length, 7)), 0, 'the damaged one was written again')
})

t.test('no cache folder to trust (another user\'s mode bits) or none writable: the command runs, nothing is cached', async (t) => {
  const home = tempDir(t, 'lh-code-cache-')
  const folder = path.join(home, 'lambda-harness', 'code')
  mkdirSync(folder, { recursive: true })
  chmodSync(folder, 0o777)
  const open = await help(home)
  t.equal(open.exitCode, 0, open.stderr)
  t.same(cached(home), [], 'a folder others can write is not used')

  const file = path.join(tempDir(t, 'lh-code-cache-'), 'not-a-folder')
  writeFileSync(file, '')
  const none = await help(file)
  t.equal(none.exitCode, 0, none.stderr)
  t.equal(none.stdout, open.stdout)
})
