// The order `check` starts its scenarios in: the longest waits first (the timeout scenario's 1 s,
// freeze's gaps, many-invokes' invokes), so the longest does not start last behind short ones;
// the report keeps the scenarios' own order.
import t from 'tap'
import { SCENARIOS, startOrder } from '../../harness/conformance/scenarios.js'
import { check, fixture } from './suite.js'

const names = (manyInvokes: number) => startOrder(SCENARIOS, manyInvokes).map((index) => SCENARIOS[index]!.name)

t.test('startOrder: the longest waits first, ties in the report order', async (t) => {
  t.same(names(200), ['shutdown-timeout', 'freeze', 'many-invokes', 'registers', 'init', 'invoke', 'shutdown-spindown', 'shutdown-failure'])
  t.same(names(2000).slice(0, 3), ['many-invokes', 'shutdown-timeout', 'freeze'], 'many invokes wait longer than the timeout')
  t.same(names(1000).slice(0, 2), ['many-invokes', 'shutdown-timeout'], 'a tie keeps the report order')
  t.same(startOrder(SCENARIOS.slice(0, 2), 200), [0, 1], 'scenarios without waits keep their order')
})

t.test('with one job the longest scenario runs first, and the report keeps its order', async (t) => {
  const report = await check(t, fixture('well-behaved'), { only: ['registers', 'shutdown-timeout'], jobs: 1 })
  t.same(report.scenarios.map((s) => s.name), ['registers', 'shutdown-timeout'])
  const [registers, timeout] = report.scenarios.map((s) => Date.parse(s.record.startedAt))
  t.ok(timeout! < registers!, `shutdown-timeout started first (${report.scenarios[1]!.record.startedAt} < ${report.scenarios[0]!.record.startedAt})`)
  t.ok(report.ok, 'the well-behaved extension passes')
})
