// Shared test helpers: boot a sandbox and register its teardown in one call, fixture paths,
// temporary extension folders, and waits that are events with deadlines, never sleeps.
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { homedir, tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { boot, type BootOptions, type Sandbox, type SandboxHooks } from '../harness/index.js'
import type { RunRecord, TimelineEntry } from '../harness/index.js'
import { groupMembers } from '../harness/supervisor/process-groups.js'
import { mergeTree, toBwrapArgs } from '../harness/isolation/mounts.js'
import { findExecutable } from '../harness/isolation/launcher.js'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const FUNCTIONS = path.join(ROOT, 'fixtures', 'functions')
export const EXTENSIONS = path.join(ROOT, 'fixtures', 'extensions')
export const RUNTIMES = path.join(ROOT, 'fixtures', 'runtimes')
/** The project venv `make setup` makes (requirements-test.txt): awslambdaric, psycopg, SQLAlchemy… */
export const VENV_PYTHON = path.join(ROOT, '.venv', 'bin', 'python')
/** Debian's interpreter: fast to start (no pyenv shim) and the one that has psycopg2. */
export const SYSTEM_PYTHON = '/usr/bin/python3'
/**
 * The tests' --python: the venv's when it is there, else Debian's. Under
 * test/runtimes/on-python3.1x tests, LH_TEST_PYTHON and LH_TEST_IMAGE run a client test on
 * another interpreter inside a Debian root (`--image`).
 */
export const PYTHON = process.env.LH_TEST_PYTHON ?? (existsSync(VENV_PYTHON) ? VENV_PYTHON : SYSTEM_PYTHON)
export const IMAGE = process.env.LH_TEST_IMAGE

/** What a boot needs to run on LH_TEST_IMAGE: the image, and the sandbox (an image is its root). */
export function onTestImage(): Partial<BootOptions> {
  return IMAGE === undefined ? {} : { image: IMAGE, isolation: 'auto' }
}

/** The command that runs PYTHON with `args`: on the host, or inside LH_TEST_IMAGE with this checkout at its own path. */
export function pythonCommand(args: readonly string[]): [string, string[]] {
  if (IMAGE === undefined) {
    return [PYTHON, [...args]]
  }
  const root = toBwrapArgs(mergeTree('/', [{ host: IMAGE, at: [] }, { host: ROOT, at: ROOT.split('/').filter((p) => p !== '') }], { merged: true }))
  return ['bwrap', [...root, '--proc', '/proc', '--dev', '/dev', '--die-with-parent', '--', PYTHON, ...args]]
}

export function fn(name: string): string {
  return path.join(FUNCTIONS, name)
}

/** A temporary /opt/extensions with the named fixture extensions, removed at teardown. */
export function extensionsDir(t: Test, names: readonly string[]): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'lh-ext-'))
  for (const name of names) {
    symlinkSync(path.join(EXTENSIONS, name), path.join(dir, name))
  }
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Boots a sandbox and registers its disposal and a leak check with the test. */
export async function startSandbox(t: Test, options: Partial<BootOptions> & { functionDir: string }, hooks: SandboxHooks = {}): Promise<Sandbox> {
  const sandbox = await boot({ handler: 'app.handler', python: PYTHON, ...options, ...onTestImage() }, hooks)
  t.teardown(async () => {
    const pids = sandbox.record.processes.map((p) => p.pid).filter((pid): pid is number => pid !== null)
    await sandbox.dispose()
    const alive = pids.flatMap((pid) => groupMembers(pid))
    if (alive.length > 0) {
      // Teardown cannot assert; a throw here fails the test loudly.
      throw new Error(`processes still alive after dispose: ${alive.join(', ')}`)
    }
  })
  return sandbox
}

export { groupMembers }

export function entries(record: RunRecord, filter: (entry: TimelineEntry) => boolean): TimelineEntry[] {
  return record.timeline.filter(filter)
}

/** The first timeline entry matching, or a failure naming what was missing. */
export function at(record: RunRecord, process: string | undefined, pattern: RegExp): number {
  const entry = record.timeline.find((e) => (process === undefined || e.process === process) && pattern.test(e.detail))
  if (entry === undefined) {
    throw new Error(`no timeline entry for ${process ?? 'any process'} matching ${pattern}`)
  }
  return entry.atMs
}

/**
 * Checks `condition` every 10 ms until it holds or `timeoutMs` passes: a bounded wait for state
 * that emits no event (the kernel's view of a process, a counter in another process).
 */
export async function until(condition: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) {
      return false
    }
    await sleep(10)
  }
  return true
}

/**
 * Writes an extension `canary` into `dir` that, whenever it is started, connects to a loopback
 * server of the test: a connection rather than a file, because inside the bwrap sandbox the host's
 * files are read-only and /tmp is private, while the network is the host's. With `behaves` it then
 * runs as the well-behaved reference extension (so a valid run with it is clean); otherwise it exits
 * without registering. Returns how many times it has started.
 */
export async function canaryExtension(t: Test, dir: string, behaves = false): Promise<(() => number) & { readonly port: number }> {
  let connections = 0
  const server = createServer((socket) => {
    connections++
    socket.destroy()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { port } = server.address() as AddressInfo
  const kit = path.join(EXTENSIONS, 'lib')
  const then = behaves ? `sys.path.insert(0, ${JSON.stringify(kit)})\nfrom extension_kit import main; main("well-behaved")\n` : ''
  writeFileSync(path.join(dir, 'canary'), `#!${PYTHON}\nimport socket, sys\nsocket.create_connection(("127.0.0.1", ${port})).close()\n${then}`, { mode: 0o755 })
  // `port` is the test's listener: a bwrap sandbox's own network reaches it as a host port (--host-port).
  return Object.assign(() => connections, { port })
}

/** The Debian roots `make setup` builds (.ci/build-root): a contract shared with checks outside the tests. */
export function debianRoot(suite: 'trixie' | 'sid' | 'bullseye'): string {
  return path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'lambda-harness', 'roots', suite)
}

/** Why a test of the bwrap sandbox cannot run here (bwrap is not on PATH), or false: tap's `skip` option. */
export const NO_BWRAP: string | false = findExecutable('bwrap') === undefined && 'no bwrap on PATH: this test is about the bwrap sandbox'

/** Why a test that needs the root (run in the bwrap sandbox) cannot run, or undefined when it can. */
export function missingRoot(suite: 'trixie' | 'sid' | 'bullseye'): string | undefined {
  if (NO_BWRAP) return NO_BWRAP
  return existsSync(path.join(debianRoot(suite), 'bin', 'sh')) ? undefined : `no ${suite} root at ${debianRoot(suite)} (make setup builds it)`
}

/** A temporary folder, removed at teardown. */
export function tempDir(t: Test, prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Points XDG_CACHE_HOME at a fresh folder for the test (the image cache lives there), restored and removed at teardown. */
export function privateCacheHome(t: Test): string {
  const cache = mkdtempSync(path.join(tmpdir(), 'lh-cache-'))
  const before = process.env.XDG_CACHE_HOME
  process.env.XDG_CACHE_HOME = cache
  t.teardown(() => {
    if (before === undefined) {
      delete process.env.XDG_CACHE_HOME
    } else {
      process.env.XDG_CACHE_HOME = before
    }
    rmSync(cache, { recursive: true, force: true })
  })
  return cache
}
