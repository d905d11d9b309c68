// Reads the PostgreSQL server log and keeps a ledger of client sessions: who connected (role,
// application name, backend pid), and how each session ended. Pure: no I/O, fed one line at a time
// by postgres-server.ts, so it is tested with captured log lines and no server.
//
// The server must run with the settings in `LOG_SETTINGS` (postgres-server.ts passes them), and the
// leased roles with `log_min_messages = debug1` (postgres.ts sets it per role), because PostgreSQL
// logs a plain EOF outside a transaction only at DEBUG1 (src/backend/tcop/postgres.c,
// SocketBackend: `ereport(DEBUG1, ... "unexpected EOF on client connection")`).
//
// What a session's log looks like, by how it ended (PostgreSQL 14-17):
//   closed   connection received → connection authorized → disconnection
//            (a Terminate message makes the backend exit without logging anything else)
//   dropped  … → "unexpected EOF on client connection" (DEBUG)            client died, idle
//            … → "unexpected EOF on client connection with an open transaction" (LOG)
//            … → "could not receive data from client: Connection reset by peer" (LOG)
//            … → FATAL "connection to client lost"          client died while a query ran
//            … → any other FATAL (terminated by an administrator, idle timeout, …)
//            then → disconnection
//   open     no disconnection yet
import { EventEmitter } from 'node:events'

/** Server settings the ledger relies on. `%n` (epoch seconds with ms) has no spaces, unlike `%m`. */
export const LOG_SETTINGS: Readonly<Record<string, string>> = {
  log_connections: 'on',
  log_disconnections: 'on',
  log_line_prefix: '%n [%p] %q%u %a: ',
  // Messages are matched by their English text.
  lc_messages: 'C',
  // Statements can span lines; unprefixed continuation lines could be mistaken for records.
  log_min_error_statement: 'panic',
}

/** One parsed log line. */
export interface LogRecord {
  atMs: number
  pid: number
  /** `DEBUG` for every DEBUGn level, as the server prints it. */
  severity: string
  message: string
}

/** A client session as the log tells it. Mutated by the ledger as lines arrive. */
export interface LoggedSession {
  readonly backendPid: number
  readonly connectedAtMs: number
  /** Client address as logged on "connection received", e.g. `127.0.0.1:53412` or `[local]`. */
  readonly client: string
  role?: string
  /** application_name from the startup packet (PGAPPNAME), not later `SET`s. */
  applicationName?: string
  /** Set once the server has accepted the login; failed logins never become sessions. */
  authorized: boolean
  /** The first message that says the session ended abnormally. */
  abnormalEnd?: string
  endedAtMs?: number
}

// `%n [%p] ` always; `%u %a: ` only for session processes (the `%q`). The lazy group stops at the
// first ": SEVERITY:  ", so only an application name that itself contains one could fool it.
const LINE = /^(\d+(?:\.\d+)?) \[(\d+)\] (?:.*?: )?(DEBUG|LOG|INFO|NOTICE|WARNING|ERROR|FATAL|PANIC|DETAIL|HINT|CONTEXT|STATEMENT|QUERY|LOCATION):  (.*)$/
const RECEIVED = /^connection received: host=(\S+)(?: port=(\d+))?/
const AUTHORIZED = /^connection authorized: user=(\S+) database=\S+(?: application_name=(.*?))?(?: (?:SSL enabled|GSS) \(.*\))?$/
// Logged by a backend just before it exits because its client went away (see the header).
const CLIENT_GONE = /^(unexpected EOF on client connection|could not receive data from client|could not send data to client|connection to client lost)/
// Logged by the postmaster when a backend died without running its exit callbacks.
const BACKEND_DIED = /^server process \(PID (\d+)\) (was terminated by signal|exited with exit code)/
const BARRIER = /^lambda-harness barrier (\d+)$/

/** Parses one line written with `LOG_SETTINGS.log_line_prefix`; undefined for continuation lines. */
export function parseLogLine(line: string): LogRecord | undefined {
  const match = LINE.exec(line)
  if (match === null) {
    return undefined
  }
  const [, seconds, pid, severity, message] = match as unknown as [string, string, string, string, string]
  return { atMs: Math.round(Number(seconds) * 1000), pid: Number(pid), severity, message }
}

/** The SQL that makes the server log `lambda-harness barrier <n>` (see `SessionLedger.barrier`). */
export function barrierSql(n: number): string {
  return `DO $$ BEGIN RAISE LOG 'lambda-harness barrier %', ${Math.trunc(n)}; END $$`
}

interface LedgerEvents {
  ended: [LoggedSession]
  barrier: [number]
}

/**
 * Sessions by role. Emits `ended` when a session's disconnection is logged and `barrier` when a
 * barrier line arrives: every line the server wrote before it has then been ingested, since one
 * pipe carries all of them in write order.
 */
export class SessionLedger extends EventEmitter<LedgerEvents> {
  #live = new Map<number, LoggedSession>()
  #byRole = new Map<string, LoggedSession[]>()

  constructor() {
    super()
    // Every report waiting on the ledger listens until it settles; many sandboxes share one ledger.
    this.setMaxListeners(0)
  }

  ingest(record: LogRecord): void {
    const { pid, message } = record
    const received = RECEIVED.exec(message)
    if (received !== null) {
      const client = received[2] === undefined ? `${received[1]}` : `${received[1]}:${received[2]}`
      // A new connection on a reused pid replaces whatever the old backend left unfinished.
      this.#live.set(pid, { backendPid: pid, connectedAtMs: record.atMs, client, authorized: false })
      return
    }
    const barrier = BARRIER.exec(message)
    if (barrier !== null) {
      this.emit('barrier', Number(barrier[1]))
      return
    }
    const died = BACKEND_DIED.exec(message)
    if (died !== null) {
      this.#end(Number(died[1]), record.atMs, message)
      return
    }
    const session = this.#live.get(pid)
    if (session === undefined) {
      return
    }
    const authorized = AUTHORIZED.exec(message)
    if (authorized !== null) {
      session.role = authorized[1]
      session.applicationName = authorized[2]
      session.authorized = true
      this.#sessionsOf(session.role).push(session)
    } else if (message.startsWith('disconnection: ')) {
      this.#end(pid, record.atMs)
    } else if (record.severity === 'FATAL' || record.severity === 'PANIC' || CLIENT_GONE.test(message)) {
      if (!session.authorized) {
        // A failed login (bad password, unknown role): no disconnection line follows.
        this.#live.delete(pid)
        return
      }
      session.abnormalEnd ??= message
    }
  }

  /** Authorized sessions of a role, oldest first. */
  sessionsOf(role: string): readonly LoggedSession[] {
    return this.#byRole.get(role) ?? []
  }

  /** Drops a role's history (after its lease is released). */
  forget(role: string): void {
    for (const session of this.#byRole.get(role) ?? []) {
      if (this.#live.get(session.backendPid) === session) {
        this.#live.delete(session.backendPid)
      }
    }
    this.#byRole.delete(role)
  }

  #sessionsOf(role: string): LoggedSession[] {
    let sessions = this.#byRole.get(role)
    if (sessions === undefined) {
      sessions = []
      this.#byRole.set(role, sessions)
    }
    return sessions
  }

  #end(pid: number, atMs: number, abnormalEnd?: string): void {
    const session = this.#live.get(pid)
    if (session === undefined) {
      return
    }
    this.#live.delete(pid)
    if (abnormalEnd !== undefined) {
      session.abnormalEnd ??= abnormalEnd
    }
    session.endedAtMs = atMs
    if (session.authorized) {
      this.emit('ended', session)
    }
  }
}

/**
 * Resolves once every session has ended, or with the sessions still running when `signal` aborts
 * (the caller's deadline). Event-driven: it listens to `ended`, it does not poll.
 */
export function waitForSessionsToEnd(
  ledger: SessionLedger,
  sessions: readonly LoggedSession[],
  signal: AbortSignal,
): Promise<LoggedSession[]> {
  const pending = new Set(sessions.filter((session) => session.endedAtMs === undefined))
  if (pending.size === 0 || signal.aborted) {
    return Promise.resolve([...pending])
  }
  return new Promise((resolve) => {
    const finish = (): void => {
      ledger.off('ended', onEnded)
      signal.removeEventListener('abort', finish)
      resolve([...pending])
    }
    const onEnded = (session: LoggedSession): void => {
      if (pending.delete(session) && pending.size === 0) {
        finish()
      }
    }
    ledger.on('ended', onEnded)
    signal.addEventListener('abort', finish, { once: true })
  })
}
