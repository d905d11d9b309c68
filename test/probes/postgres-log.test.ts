// The log ledger on captured PostgreSQL 17 log lines: no server, so every shape is pinned exactly.
import t from 'tap'
import {
  barrierSql,
  parseLogLine,
  SessionLedger,
  waitForSessionsToEnd,
  type LoggedSession,
} from '../../harness/probes/postgres-log.js'

/** Feeds lines (in the server's format) to a fresh ledger. */
function ledgerOf(lines: readonly string[]): SessionLedger {
  const ledger = new SessionLedger()
  feed(ledger, lines)
  return ledger
}

function feed(ledger: SessionLedger, lines: readonly string[]): void {
  for (const line of lines) {
    const record = parseLogLine(line)
    if (record !== undefined) {
      ledger.ingest(record)
    }
  }
}

/** The log of one authorized session of `sb_a` on backend `pid`, before it ends. */
function login(pid: number, app: string, port = 50000 + pid): string[] {
  return [
    `1795573874.078 [${pid}] [unknown] [unknown]: LOG:  connection received: host=127.0.0.1 port=${port}`,
    `1795573874.088 [${pid}] sb_a [unknown]: LOG:  connection authenticated: identity="sb_a" method=scram-sha-256 (/tmp/x/pg_hba.conf:2)`,
    `1795573874.088 [${pid}] sb_a [unknown]: LOG:  connection authorized: user=sb_a database=postgres application_name=${app}`,
  ]
}

function disconnection(pid: number, app: string): string {
  return `1795573874.094 [${pid}] sb_a ${app}: LOG:  disconnection: session time: 0:00:00.015 user=sb_a database=postgres host=127.0.0.1 port=1`
}

t.test('parseLogLine reads the prefix of session and postmaster lines', async (t) => {
  t.same(parseLogLine('1795573874.185 [3861] sb_a my app: DEBUG:  unexpected EOF on client connection'), {
    atMs: 1795573874185,
    pid: 3861,
    severity: 'DEBUG',
    message: 'unexpected EOF on client connection',
  })
  t.same(parseLogLine('1795573872.492 [3846] LOG:  database system is ready to accept connections'), {
    atMs: 1795573872492,
    pid: 3846,
    severity: 'LOG',
    message: 'database system is ready to accept connections',
  })
  t.equal(parseLogLine('\tcontinuation of a multi-line message'), undefined)
})

t.test('a session ended by Terminate is closed: disconnection and nothing abnormal', async (t) => {
  const ledger = ledgerOf([...login(10, 'runtime'), disconnection(10, 'runtime')])
  const [session] = ledger.sessionsOf('sb_a')
  t.match(session, { backendPid: 10, applicationName: 'runtime', client: '127.0.0.1:50010', endedAtMs: 1795573874094 })
  t.equal(session?.abnormalEnd, undefined)
})

t.test('each way a client can vanish is an abnormal end', async (t) => {
  const endings = {
    eof: '1795573874.185 [11] sb_a x: DEBUG:  unexpected EOF on client connection',
    transaction: '1795573874.273 [12] sb_a x: LOG:  unexpected EOF on client connection with an open transaction',
    reset: '1795573874.829 [13] sb_a x: LOG:  could not receive data from client: Connection reset by peer',
    lost: '1795573874.846 [14] sb_a x: FATAL:  connection to client lost',
    terminated: '1795573874.846 [15] sb_a x: FATAL:  terminating connection due to administrator command',
  }
  const lines = Object.values(endings).flatMap((ending, i) => [...login(11 + i, 'x'), ending, disconnection(11 + i, 'x')])
  // A reset is followed by an EOF line: the first message is the reason.
  lines.splice(lines.indexOf(endings.reset) + 1, 0, '1795573874.831 [13] sb_a x: DEBUG:  unexpected EOF on client connection')
  const reasons = ledgerOf(lines)
    .sessionsOf('sb_a')
    .map((session) => session.abnormalEnd)
  t.same(reasons, [
    'unexpected EOF on client connection',
    'unexpected EOF on client connection with an open transaction',
    'could not receive data from client: Connection reset by peer',
    'connection to client lost',
    'terminating connection due to administrator command',
  ])
})

t.test('a backend that died without its exit callbacks ends with the postmaster message', async (t) => {
  const ledger = ledgerOf([
    ...login(20, 'x'),
    '1795573875.000 [1] LOG:  server process (PID 20) was terminated by signal 9: Killed',
  ])
  t.match(ledger.sessionsOf('sb_a')[0], { endedAtMs: 1795573875000, abnormalEnd: /^server process \(PID 20\)/ })
})

t.test('failed logins are not sessions, and a reused pid starts a new session', async (t) => {
  const ledger = ledgerOf([
    '1795573874.078 [30] [unknown] [unknown]: LOG:  connection received: host=127.0.0.1 port=1',
    '1795573874.079 [30] sb_a [unknown]: FATAL:  password authentication failed for user "sb_a"',
    ...login(31, 'first'),
    disconnection(31, 'first'),
    ...login(31, 'second'),
  ])
  t.same(
    ledger.sessionsOf('sb_a').map((s) => [s.applicationName, s.endedAtMs !== undefined]),
    [
      ['first', true],
      ['second', false],
    ],
  )
})

t.test('roles are kept apart, and forget() drops a role and ignores its later lines', async (t) => {
  const ledger = ledgerOf([
    ...login(40, 'a'),
    '1795573874.088 [41] [unknown] [unknown]: LOG:  connection received: host=127.0.0.1 port=2',
    '1795573874.088 [41] sb_b [unknown]: LOG:  connection authorized: user=sb_b database=postgres application_name=b',
  ])
  t.equal(ledger.sessionsOf('sb_a').length, 1)
  t.equal(ledger.sessionsOf('sb_b').length, 1)
  let ended = 0
  ledger.on('ended', () => ended++)
  ledger.forget('sb_a')
  feed(ledger, [disconnection(40, 'a')])
  t.same(ledger.sessionsOf('sb_a'), [])
  t.equal(ended, 0)
})

t.test('a barrier line emits its number', async (t) => {
  t.match(barrierSql(7), /RAISE LOG 'lambda-harness barrier %', 7/)
  const ledger = new SessionLedger()
  const seen: number[] = []
  ledger.on('barrier', (n) => seen.push(n))
  feed(ledger, ['1795573874.000 [5] postgres lambda-harness-probe: LOG:  lambda-harness barrier 7'])
  t.same(seen, [7])
})

t.test('waitForSessionsToEnd resolves on the ended event, or with the rest at the deadline', async (t) => {
  const ledger = ledgerOf([...login(50, 'a'), ...login(51, 'b'), ...login(52, 'c'), disconnection(52, 'c')])
  const sessions = ledger.sessionsOf('sb_a')
  const controller = new AbortController()
  const waiting = waitForSessionsToEnd(ledger, sessions, controller.signal)
  feed(ledger, [disconnection(50, 'a')])
  // Session b never ends: the deadline (here an explicit abort) settles the wait with it.
  controller.abort()
  const running: LoggedSession[] = await waiting
  t.same(
    running.map((s) => s.applicationName),
    ['b'],
  )
  t.same(await waitForSessionsToEnd(ledger, [sessions[0] as LoggedSession], new AbortController().signal), [])
})
