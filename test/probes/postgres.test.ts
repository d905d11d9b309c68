// The PostgreSQL probe against a real server and real psycopg2 clients (fixtures/pg). One probe is
// shared by most tests, each with its own lease: that sharing is what a lease exists for.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { execa, execaSync, type ResultPromise } from 'execa'
import t, { type Test } from 'tap'
import type { HarnessErrorCode } from '../../harness/errors.js'
import { PostgresProbe, type PostgresLease, type PostgresProbeOptions } from '../../harness/probes/postgres.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const FIXTURES = path.join(ROOT, 'fixtures', 'pg')
/** Debian's interpreter, which has Debian's psycopg2 (apt-get install python3-psycopg2). */
const PYTHON = '/usr/bin/python3'
const DEADLINE_MS = 15_000

const psycopg2 = execaSync(PYTHON, ['-c', 'import psycopg2'], { reject: false })
if (psycopg2.failed) {
  throw new Error(`these tests need psycopg2 for ${PYTHON}: apt-get install -y python3-psycopg2\n${psycopg2.stderr}`)
}

/** Starts a probe and stops it when the test ends. */
async function startProbe(t: Test, options: PostgresProbeOptions = {}): Promise<PostgresProbe> {
  const probe = await PostgresProbe.start(options)
  t.teardown(() => probe.stop())
  return probe
}

/** A lease whose role is dropped when the test ends. */
async function leaseFor(t: Test, probe: PostgresProbe): Promise<PostgresLease> {
  const lease = await probe.lease(t.name)
  t.teardown(() => lease.release())
  return lease
}

const FIXTURE_OPTIONS = { stdin: 'ignore', buffer: false, reject: false } as const

interface Fixture {
  readonly subprocess: ResultPromise<typeof FIXTURE_OPTIONS & { env: Record<string, string> }>
  /** Resolves when the fixture prints `text` on a line of its own; rejects if it exits first. */
  printed(text: string): Promise<void>
  /** Resolves when the fixture has exited (and its pipes closed). */
  exited(): Promise<void>
}

/** Runs fixtures/pg/<name>.py as process `processName` of the lease; killed at teardown if alive. */
function runFixture(t: Test, name: string, lease: PostgresLease, processName: string): Fixture {
  const subprocess = execa(PYTHON, [path.join(FIXTURES, `${name}.py`)], { ...FIXTURE_OPTIONS, env: lease.env(processName) })
  const lines: string[] = []
  const stderr: string[] = []
  const onLine = new Set<(line: string) => void>()
  createInterface({ input: subprocess.stdout }).on('line', (line) => {
    lines.push(line)
    onLine.forEach((listener) => listener(line))
  })
  createInterface({ input: subprocess.stderr }).on('line', (line) => stderr.push(line))
  const exited = subprocess.then(() => undefined)
  t.teardown(async () => {
    subprocess.kill('SIGKILL')
    await exited
  })
  const describe = (): string => `${name} (stdout: ${JSON.stringify(lines)}, stderr: ${stderr.join('\n')})`
  const printed = (text: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if (lines.includes(text)) {
        resolve()
        return
      }
      const listener = (line: string): void => {
        if (line === text) {
          onLine.delete(listener)
          resolve()
        }
      }
      onLine.add(listener)
      void exited.then(() => reject(new Error(`${describe()} exited before printing ${JSON.stringify(text)}`)))
    })
  return {
    subprocess,
    printed: (text) => withDeadline(printed(text), `${name} to print ${JSON.stringify(text)}`),
    exited: () => withDeadline(exited, `${name} to exit`),
  }
}

/** A pattern for t.rejects: a HarnessError with this code. */
function harnessError(code: HarnessErrorCode): { name: string; code: HarnessErrorCode } {
  return { name: `HarnessError [${code}]`, code }
}

/** Races a promise against DEADLINE_MS, naming what was awaited. */
async function withDeadline<T>(promise: Promise<T>, what: string): Promise<T> {
  const deadline = AbortSignal.timeout(DEADLINE_MS)
  const timedOut = new Promise<never>((_, reject) => {
    deadline.addEventListener('abort', () => reject(new Error(`timed out after ${DEADLINE_MS} ms waiting for ${what}`)))
  })
  return Promise.race([promise, timedOut])
}

const probe = await startProbe(t)

t.test('a client that closes its connection leaves a closed session', async (t) => {
  const lease = await leaseFor(t, probe)
  const fixture = runFixture(t, 'closes-connection', lease, 'runtime')
  await fixture.printed('closed')
  await fixture.exited()
  const report = await lease.report()
  t.match(report, { closed: 1, dropped: 0, open: 0 })
  t.match(report.sessions, [{ process: 'runtime', state: 'closed', backendPid: Number, reason: undefined }])
  const [session] = report.sessions
  t.ok(session !== undefined && session.endedAtMs !== undefined && session.connectedAtMs !== undefined)
  t.ok((session?.endedAtMs ?? 0) >= (session?.connectedAtMs ?? Infinity), 'ends after it connects')
})

t.test('a SIGKILLed holder leaves a dropped session (EOF)', async (t) => {
  const lease = await leaseFor(t, probe)
  const fixture = runFixture(t, 'holds-connection', lease, 'runtime')
  await fixture.printed('connected')
  fixture.subprocess.kill('SIGKILL')
  await fixture.exited()
  const report = await lease.report()
  t.match(report, { closed: 0, dropped: 1, open: 0 })
  t.match(report.sessions, [{ process: 'runtime', state: 'dropped', reason: 'unexpected EOF on client connection' }])
})

t.test('a holder still running is open, with its pg_stat_activity state', async (t) => {
  const lease = await leaseFor(t, probe)
  const fixture = runFixture(t, 'holds-connection', lease, 'runtime')
  await fixture.printed('connected')
  const startedAt = performance.now()
  const report = await lease.report({ settleMs: 200 })
  t.ok(performance.now() - startedAt >= 200, 'waited settleMs for the session to end')
  t.match(report, { closed: 0, dropped: 0, open: 1 })
  t.match(report.sessions, [{ process: 'runtime', state: 'open', reason: 'idle', endedAtMs: undefined }])
  await t.rejects(lease.report({ settleMs: -1 }), harnessError('ERR_INVALID_OPTION'))
})

t.test('a client that exits inside a transaction is dropped with an open transaction', async (t) => {
  const lease = await leaseFor(t, probe)
  const fixture = runFixture(t, 'dropped-in-transaction', lease, 'runtime')
  await fixture.exited()
  const report = await lease.report()
  t.match(report.sessions, [
    { state: 'dropped', reason: 'unexpected EOF on client connection with an open transaction' },
  ])
})

t.test('a connection reset is dropped', async (t) => {
  const lease = await leaseFor(t, probe)
  const fixture = runFixture(t, 'resets-connection', lease, 'runtime')
  await fixture.exited()
  const report = await lease.report()
  t.match(report.sessions, [{ state: 'dropped', reason: /^could not receive data from client: Connection reset by peer/ }])
})

t.test('a client killed while its query runs is dropped within the connection check interval', async (t) => {
  const lease = await leaseFor(t, probe)
  const fixture = runFixture(t, 'waits-in-query', lease, 'runtime')
  await fixture.printed('querying')
  fixture.subprocess.kill('SIGKILL')
  await fixture.exited()
  // pg_sleep(600) would keep the backend for ten minutes without client_connection_check_interval.
  const report = await lease.report({ settleMs: 5000 })
  t.match(report.sessions, [{ state: 'dropped', reason: 'connection to client lost' }])
})

t.test('sessions are attributed to the process named by PGAPPNAME', async (t) => {
  const lease = await leaseFor(t, probe)
  const runtime = runFixture(t, 'closes-connection', lease, 'runtime')
  const extension = runFixture(t, 'holds-connection', lease, 'telemetry-extension')
  await Promise.all([runtime.printed('closed'), extension.printed('connected')])
  extension.subprocess.kill('SIGKILL')
  await Promise.all([runtime.exited(), extension.exited()])
  const report = await lease.report()
  const byProcess = Object.fromEntries(report.sessions.map((s) => [s.process, s.state]))
  t.same(byProcess, { runtime: 'closed', 'telemetry-extension': 'dropped' })
})

t.test("two leases on one server do not see each other's sessions", async (t) => {
  const [first, second] = await Promise.all([leaseFor(t, probe), leaseFor(t, probe)])
  t.not(first.databaseUrl, second.databaseUrl)
  const closer = runFixture(t, 'closes-connection', first, 'runtime')
  const holder = runFixture(t, 'holds-connection', second, 'runtime')
  await Promise.all([closer.exited(), holder.printed('connected')])
  const [firstReport, secondReport] = await Promise.all([first.report(), second.report({ settleMs: 200 })])
  t.match(firstReport, { closed: 1, dropped: 0, open: 0, sessions: { length: 1 } })
  t.match(secondReport, { closed: 0, dropped: 0, open: 1, sessions: { length: 1 } })
})

t.test('release() ends leftover sessions and drops the role', async (t) => {
  const lease = await probe.lease('released')
  const fixture = runFixture(t, 'holds-connection', lease, 'runtime')
  await fixture.printed('connected')
  await lease.release()
  await lease.release()
  await t.rejects(lease.report(), harnessError('ERR_DISPOSED'))
  // The role is gone: a new client of this lease cannot log in.
  const late = runFixture(t, 'closes-connection', lease, 'runtime')
  await late.exited()
  t.not((await late.subprocess).exitCode, 0)
})

const binDir = systemBinDir()
t.test('a probe can use a system PostgreSQL through binDir', { skip: binDir === undefined && 'no system PostgreSQL 14+' }, async (t) => {
  const systemProbe = await startProbe(t, { binDir })
  const lease = await leaseFor(t, systemProbe)
  const closer = runFixture(t, 'closes-connection', lease, 'runtime')
  const holder = runFixture(t, 'holds-connection', lease, 'extension')
  await Promise.all([closer.exited(), holder.printed('connected')])
  holder.subprocess.kill('SIGKILL')
  await holder.exited()
  const report = await lease.report()
  // Sorted by name: the two fixtures race to connect.
  t.same(
    report.sessions.map((s) => [s.process, s.state, s.reason]).sort(),
    [
      ['extension', 'dropped', 'unexpected EOF on client connection'],
      ['runtime', 'closed', undefined],
    ],
  )
})

t.test('stop() is idempotent, closes the port and disposes the probe', async (t) => {
  const logged: string[] = []
  const own = await PostgresProbe.start({ log: (line) => logged.push(line) })
  t.teardown(() => own.stop())
  t.ok(logged.some((line) => line.includes('database system is ready to accept connections')), 'log receives server lines')
  await Promise.all([own.stop(), own.stop()])
  await t.rejects(tryConnect(own.port), { code: 'ECONNREFUSED' })
  await t.rejects(own.lease('late'), harnessError('ERR_DISPOSED'))
})

t.test('a failed start is an ERR_PROBE_FAILED, leaving no data directory behind', async (t) => {
  // os.tmpdir() follows TMPDIR, so the probe's folder lands where no other test writes.
  const privateTmp = mkdtempSync(path.join(tmpdir(), 'lh-pg-test-'))
  const savedTmpdir = process.env.TMPDIR
  t.teardown(() => rmSync(privateTmp, { recursive: true, force: true }))
  process.env.TMPDIR = privateTmp
  try {
    // A folder without initdb or postgres in it.
    await t.rejects(PostgresProbe.start({ binDir: FIXTURES }), harnessError('ERR_PROBE_FAILED'))
  } finally {
    if (savedTmpdir === undefined) {
      delete process.env.TMPDIR
    } else {
      process.env.TMPDIR = savedTmpdir
    }
  }
  t.same(readdirSync(privateTmp), [])
})

/** A Debian-style system install, if any. */
function systemBinDir(): string | undefined {
  const base = '/usr/lib/postgresql'
  if (!existsSync(base)) {
    return undefined
  }
  const versions = readdirSync(base).filter((version) => Number(version) >= 14).sort((a, b) => Number(b) - Number(a))
  const found = versions.map((version) => path.join(base, version, 'bin')).find((dir) => existsSync(path.join(dir, 'postgres')))
  return found
}

/** Opens and closes a TCP connection to 127.0.0.1:port. */
function tryConnect(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve()
    })
    socket.once('error', reject)
  })
}
