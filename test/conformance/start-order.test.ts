// The order `check` starts its scenarios in: the longest waits first (many-invokes' invokes, the
// timeout scenario's 1 s, freeze's gaps), so the longest does not start last behind short ones;
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

t.test('the first wave boots one at a time: the next scenario starts once the one before it has booted', async (t) => {
  const report = await check(t, fixture('well-behaved'), { only: ['registers', 'invoke', 'shutdown-timeout'], jobs: 3 })
  const byName = new Map(report.scenarios.map((s) => [s.name, s.record]))
  // In start order: shutdown-timeout (the longest wait), then registers, then invoke.
  const order = (['shutdown-timeout', 'registers', 'invoke'] as const).map((name) => byName.get(name)!)
  for (let i = 1; i < order.length; i++) {
    const before = order[i - 1]!
    const bootedAt = Date.parse(before.startedAt) + before.init!.startedAtMs + before.init!.durationMs
    // Or 250 ms (runner.ts, BOOT_GATE_MS) after the one before it started, which its record's
    // start follows by its sink's start; ISO times are whole ms.
    const gate = Math.min(bootedAt, Date.parse(before.startedAt) + 250 - 20)
    t.ok(Date.parse(order[i]!.startedAt) >= gate - 1, `${report.scenarios.find((s) => s.record === order[i])!.name} started at ${order[i]!.startedAt}, after the one before it booted (${new Date(bootedAt).toISOString()})`)
  }
  t.ok(report.ok, 'the well-behaved extension passes')
})
