// The probe's server starts from a copy of initdb's output kept in the cache (postgres-cluster.ts):
// a server started that way classifies a real client's session as one from initdb does, and a
// cached cluster the server refuses is replaced by initdb's, not a failed start.
import { existsSync, readdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import t, { type Test } from 'tap'
import { PostgresProbe } from '../../harness/probes/postgres.js'
import { privateCacheHome } from '../helpers.js'

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'fixtures', 'pg')

function templates(cache: string): string[] {
  const dir = path.join(cache, 'lambda-harness', 'postgres')
  return existsSync(dir) ? readdirSync(dir).map((name) => path.join(dir, name)) : []
}

/** Starts a probe, runs a client that closes its connection, and says what the report counted. */
async function closedSessionThrough(t: Test): Promise<unknown> {
  const probe = await PostgresProbe.start()
  t.teardown(() => probe.stop())
  const lease = await probe.lease(t.name)
  const client = await execa('/usr/bin/python3', [path.join(FIXTURES, 'closes-connection.py')], { env: lease.env('runtime'), reject: false })
  t.equal(client.stdout.trim(), 'closed', `the client ran (${client.stderr})`)
  const { closed, dropped, open } = await lease.report()
  await lease.release()
  await probe.stop()
  return { closed, dropped, open }
}

t.test('the first start keeps its fresh cluster; the next starts from a copy of it', async (t) => {
  const cache = privateCacheHome(t)
  t.same(await closedSessionThrough(t), { closed: 1, dropped: 0, open: 0 }, 'after initdb')
  const kept = templates(cache)
  t.equal(kept.length, 1, 'one cluster kept for these binaries')
  t.ok(existsSync(path.join(kept[0]!, 'PG_VERSION')), 'a whole one')
  t.notOk(existsSync(path.join(kept[0]!, 'postmaster.pid')), 'taken before the server ran in it')
  t.same(await closedSessionThrough(t), { closed: 1, dropped: 0, open: 0 }, 'from the copy')
  t.same(templates(cache), kept, 'still the one')
})

t.test('a cached cluster the server refuses is replaced by a fresh initdb', async (t) => {
  const cache = privateCacheHome(t)
  await closedSessionThrough(t)
  const [kept] = templates(cache)
  // Without pg_control the postmaster exits at once ("could not open file global/pg_control").
  rmSync(path.join(kept!, 'global', 'pg_control'))
  t.same(await closedSessionThrough(t), { closed: 1, dropped: 0, open: 0 }, 'the start still succeeds')
  t.same(templates(cache), [kept], 'kept under the same key')
  t.ok(existsSync(path.join(kept!, 'global', 'pg_control')), 'whole again')
})
