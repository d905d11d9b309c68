// The order `check` starts its scenarios in: the longest waits first (many-invokes' invokes, the
// timeout scenario's 1 s, freeze's gaps), so the longest does not start last behind short ones;
// the report keeps the scenarios' own order.
import t from 'tap'
import { SCENARIOS, startOrder } from '../../harness/conformance/scenarios.js'
import { check, fixture } from './suite.js'

const names = (manyInvokes: number) => startOrder(SCENARIOS, manyInvokes).map((index) => SCENARIOS[index]!.name)

t.test('startOrder: the longest waits first, ties in the report order', async (t) => {
  t.same(names(200), ['many-invokes', 'shutdown-timeout', 'freeze', 'registers', 'init', 'invoke', 'shutdown-spindown', 'shutdown-failure'])
  t.same(names(10).slice(0, 3), ['shutdown-timeout', 'freeze', 'many-invokes'], 'a few invokes wait less than the timeout and the frozen gaps')
  t.same(startOrder(SCENARIOS.slice(0, 2), 200), [0, 1], 'scenarios without waits keep their order')
})

t.test('with one job the longest scenario runs first, and the report keeps its order', async (t) => {
  const report = await check(t, fixture('well-behaved'), { only: ['registers', 'shutdown-timeout'], jobs: 1 })
  t.same(report.scenarios.map((s) => s.name), ['registers', 'shutdown-timeout'])
  const [registers, timeout] = report.scenarios.map((s) => Date.parse(s.record.startedAt))
  t.ok(timeout! < registers!, `shutdown-timeout started first (${report.scenarios[1]!.record.startedAt} < ${report.scenarios[0]!.record.startedAt})`)
  t.ok(report.ok, 'the well-behaved extension passes')
})
