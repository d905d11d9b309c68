// Fixtures that get Shutdown wrong: ignoring SHUTDOWN, flushing past the deadline, leaving a child
// behind, waiting for a SIGTERM that never comes. Each shutdown reason is its own scenario.
import t from 'tap'
import { byId, check, failsExactly, fixture, inParallel } from './suite.js'

const REASONS = ['spindown', 'timeout', 'failure'] as const
const each = (check: string) => REASONS.map((reason) => `shutdown-${reason}/${check}`)

t.test('each fixture fails exactly its check, for every shutdown reason', async (t) => {
  const cases = [
    { name: 'ignores-shutdown', fails: each('exits-before-deadline') },
    { name: 'flushes-past-deadline', fails: each('exits-before-deadline') },
    { name: 'spawns-child', fails: each('no-orphans') },
    { name: 'waits-for-sigterm', fails: [...each('exits-before-deadline'), 'shutdown-spindown/no-sigterm-reliance'] },
  ]
  // Many invokes are not the point here.
  const reports = await inParallel(cases.map((c) => () => check(t, fixture(c.name), { manyInvokes: 10 })))
  cases.forEach((c, index) => failsExactly(t, reports[index]!, c.fails))
  const [ignores, flushes, spawns] = reports
  for (const reason of REASONS) {
    const result = byId(ignores!, `shutdown-${reason}/exits-before-deadline`)
    t.match(result.summary, /^still running at the deadline \(2000 ms window; SHUTDOWN came .* in\): SIGKILLed$/)
    t.ok(typeof result.data.marginMs === 'number' && result.data.marginMs <= 0, `${reason}: the margin left is none`)
    t.match(byId(ignores!, `shutdown-${reason}/receives-shutdown`), { outcome: 'pass', summary: new RegExp(`^SHUTDOWN \\(${reason}\\) `) })
    t.match(
      byId(flushes!, `shutdown-${reason}/telemetry-flushed`),
      { outcome: 'skip', summary: /^blocked: the records of 1 of 1 invoke\(s\) never reached SINK_URL .*\(reported by shutdown-.*\/exits-before-deadline\)$/ },
      `${reason}: the telemetry it lost is put down to the deadline`,
    )
    t.match(byId(spawns!, `shutdown-${reason}/no-orphans`).summary, /^1 process\(es\) it started outlived it and were SIGKILLed: pid \d+ \(sleep 1000\)$/)
  }
  t.match(byId(ignores!, 'init/error-handled'), { outcome: 'skip', summary: /reported by shutdown-failure\/exits-before-deadline/ })
})
