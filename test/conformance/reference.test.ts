// The reference extensions pass every check: extensions/pg-extension (closes its connection on
// SHUTDOWN, checked against a real PostgreSQL), extensions/minimal-node, and a Telemetry API
// subscriber that forwards every batch before answering (fixtures/extensions/telemetry-recorder).
import t from 'tap'
import { PostgresProbe } from '../../harness/probes/postgres.js'
import { byId, check, failsExactly, fixture, inParallel, reference } from './suite.js'

const REASONS = ['spindown', 'timeout', 'failure'] as const

t.test('reference extensions pass every check', async (t) => {
  const postgres = await PostgresProbe.start()
  t.teardown(() => postgres.stop())
  const [pg, node, telemetry] = await inParallel([
    () => check(t, reference('pg-extension'), { postgres }),
    () => check(t, reference('minimal-node')),
    () => check(t, fixture('telemetry-recorder'), { manyInvokes: 10 }),
  ])
  for (const report of [pg!, node!, telemetry!]) {
    failsExactly(t, report, [])
  }
  t.equal(pg!.postgres.used, true)
  for (const reason of REASONS) {
    t.match(byId(pg!, `shutdown-${reason}/db-sessions-closed`), { outcome: 'pass', summary: /^1 session\(s\) closed cleanly$/ }, `pg-extension closes its session (${reason})`)
    t.match(byId(pg!, `shutdown-${reason}/exits-before-deadline`), { outcome: 'pass', data: { marginMs: Number } })
    t.match(byId(telemetry!, `shutdown-${reason}/telemetry-flushed`), { outcome: 'pass', summary: /every invoke's records reached SINK_URL/ })
  }
  t.match(byId(node!, 'shutdown-spindown/db-sessions-closed'), { outcome: 'skip', summary: /no PostgreSQL probe/ }, 'minimal-node never mentions DATABASE_URL: no probe started')
  t.equal(node!.postgres.used, false)
  t.match(byId(node!, 'invoke/keeps-up'), { outcome: 'pass', data: { invokes: 3, postInvokeMedianMs: Number, functionMedianMs: Number } })
  t.match(byId(node!, 'many-invokes/memory'), { outcome: 'pass', data: { toInvoke: 50 } })
})

t.test('--env values can name the scenario\'s collector as {SINK_URL}', async (t) => {
  const report = await check(t, fixture('dumps-env'), { only: ['registers'], env: { MY_LOGS_ENDPOINT: '{SINK_URL}/logs' } })
  const line = report.scenarios[0]!.record.timeline.find((e) => e.process === 'dumps-env' && e.detail.startsWith('dumps-env env '))
  const env = JSON.parse(line?.detail.slice('dumps-env env '.length) ?? '{}') as Record<string, string>
  t.match(env.MY_LOGS_ENDPOINT, /^http:\/\/127\.0\.0\.1:\d+\/logs$/)
  t.equal(env.MY_LOGS_ENDPOINT, `${env.SINK_URL}/logs`)
})
