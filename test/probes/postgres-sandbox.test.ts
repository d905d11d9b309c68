// Issue 4's promise with a real PostgreSQL: connections closed on SIGTERM/SHUTDOWN are "closed",
// the leaky ones "dropped", and the record says why.
import path from 'node:path'
import t, { type Test } from 'tap'
import { PostgresProbe } from '../../harness/probes/postgres.js'
import { ROOT, extensionsDir, fn, startSandbox } from '../helpers.js'

const probe = await PostgresProbe.start()
t.teardown(() => probe.stop())
const PG_EXTENSION_LAYER = path.join(ROOT, 'extensions', 'pg-extension')

interface Sessions {
  closed: number
  dropped: number
  open: number
  sessions: { process: string; state: string }[]
}

async function lifecycle(t: Test, options: Parameters<typeof startSandbox>[1]) {
  const sandbox = await startSandbox(t, { postgres: true, ...options }, { postgres: probe })
  for (let i = 0; i < 2; i++) {
    t.equal((await sandbox.invoke({})).status, 'success')
  }
  await sandbox.shutdown()
  const record = sandbox.record
  return { record, postgres: record.resources.postgres as Sessions }
}

t.test('the clean pair: two sessions closed, a clean verdict', async (t) => {
  const { record, postgres } = await lifecycle(t, { functionDir: fn('pg-closes-on-sigterm'), layers: [PG_EXTENSION_LAYER] })
  t.match(postgres, { closed: 2, dropped: 0, open: 0 })
  t.same(postgres.sessions.map((s) => s.process).sort(), ['pg-extension', 'runtime'], 'attributed by PGAPPNAME')
  t.same(record.verdict, { clean: true, problems: [] })
})

t.test('no SIGTERM handler on 3.12: the runtime\'s session is dropped', async (t) => {
  const { record, postgres } = await lifecycle(t, { functionDir: fn('pg-never-closes'), extensionsDir: extensionsDir(t, ['well-behaved']) })
  t.match(postgres, { closed: 0, dropped: 1, open: 0 })
  t.match(postgres.sessions, [{ process: 'runtime', state: 'dropped' }])
  t.match(record.shutdown?.runtime?.exit, { signal: 'SIGTERM' }, 'ended by SIGTERM\'s default action')
  t.ok(record.verdict.problems.some((p) => p.code === 'db-session-dropped' && p.process === 'runtime'))
})

t.test('an extension killed at the deadline: dropped, and what it held is recorded', async (t) => {
  const { record, postgres } = await lifecycle(t, {
    functionDir: fn('pg-closes-on-sigterm'),
    extensionsDir: extensionsDir(t, ['pg-ignores-shutdown']),
  })
  t.match(postgres.sessions.find((s) => s.process === 'pg-ignores-shutdown'), { state: 'dropped' })
  t.match(postgres.sessions.find((s) => s.process === 'runtime'), { state: 'closed' })
  const extension = record.shutdown?.extensions.find((e) => e.name === 'pg-ignores-shutdown')
  t.equal(extension?.killed, true)
  t.match(extension?.heldAtKill?.tcp, [{ remote: `127.0.0.1:${probe.port}`, state: 'ESTABLISHED' }], 'the database connection it held')
  const codes = record.verdict.problems.map((p) => p.code)
  t.ok(codes.includes('extension-killed-at-deadline'))
  t.ok(codes.includes('db-session-dropped'))
})

t.test('python3.11: the SIGTERM handler never runs, the runtime is killed at its share', async (t) => {
  const { record, postgres } = await lifecycle(t, {
    functionDir: fn('pg-closes-on-sigterm'),
    layers: [PG_EXTENSION_LAYER],
    runtime: 'python3.11',
  })
  const output = record.timeline.filter((e) => e.kind === 'output' && e.process === 'runtime').map((e) => e.detail)
  t.notOk(output.some((line) => line.includes('SIGTERM received')), 'the handler did not run')
  t.equal(record.shutdown?.runtime?.killed, true)
  t.match(record.shutdown?.runtime?.exit, { signal: 'SIGKILL' })
  t.match(postgres.sessions.find((s) => s.process === 'runtime'), { state: 'dropped' })
  t.match(postgres.sessions.find((s) => s.process === 'pg-extension'), { state: 'closed' })
  t.notOk(record.verdict.problems.some((p) => p.code === 'runtime-overran-share'), 'how Lambda works on 3.11, not the function\'s fault')
})

t.test('an orphaned child process is found and killed', async (t) => {
  const { record } = await lifecycle(t, { functionDir: fn('echo'), extensionsDir: extensionsDir(t, ['spawns-child']) })
  const orphans = record.shutdown?.orphans ?? []
  t.ok(orphans.length > 0, 'an orphan was found')
  for (const pid of orphans.flatMap((o) => o.pids)) {
    t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `pid ${pid} is gone`)
  }
  t.ok(record.verdict.problems.some((p) => p.code === 'orphan-processes'))
})
