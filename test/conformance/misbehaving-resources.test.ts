// Fixtures that leave resources in a bad state: a database session dropped instead of closed, the
// last telemetry never forwarded, something leaked on every invoke. One PostgreSQL for the file.
import t from 'tap'
import { PostgresProbe } from '../../harness/probes/postgres.js'
import { byId, check, failsExactly, fixture, inParallel } from './suite.js'

const REASONS = ['spindown', 'timeout', 'failure'] as const
const each = (check: string) => REASONS.map((reason) => `shutdown-${reason}/${check}`)

t.test('each fixture fails exactly its check', async (t) => {
  const postgres = await PostgresProbe.start()
  t.teardown(() => postgres.stop())
  const [drops, loses, leaks] = await inParallel([
    () => check(t, fixture('drops-db-connection'), { postgres, manyInvokes: 10 }),
    () => check(t, fixture('loses-buffered-telemetry'), { manyInvokes: 10 }),
    () => check(t, fixture('leaks-per-invoke'), { manyInvokes: 100 }),
  ])
  failsExactly(t, drops!, each('db-sessions-closed'))
  failsExactly(t, loses!, each('telemetry-flushed'))
  failsExactly(t, leaks!, ['many-invokes/memory', 'many-invokes/fds', 'many-invokes/threads'])
  for (const reason of REASONS) {
    t.match(byId(drops!, `shutdown-${reason}/db-sessions-closed`).summary, /^1 of 1 session\(s\) not closed: backend \d+ dropped/)
    t.match(byId(drops!, `shutdown-${reason}/exits-before-deadline`), { outcome: 'pass' }, 'it exits in time, with code 0: only the session is wrong')
    // It exits at once on SHUTDOWN: what was still on its way to it (on-demand Lambda delivers after SHUTDOWN) or in its buffer is lost.
    t.match(byId(loses!, `shutdown-${reason}/telemetry-flushed`).summary, /^(the records of 1 of 1 invoke\(s\) never reached SINK_URL|\d+ record\(s\) were still on their way to it when it exited)/)
  }
  t.match(byId(leaks!, 'many-invokes/fds'), { data: { growth: Number } })
  t.ok((byId(leaks!, 'many-invokes/fds').data.growth as number) >= 20, 'a file per invoke shows as fds growing with the invokes')
})
