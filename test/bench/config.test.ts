// The bench's knobs: presets, flags over BENCH_* variables, and messages that name the option.
import t from 'tap'
import { BenchUsageError, SUITES, parseConfig } from '../../bench/config.js'

t.test('defaults: every suite, 1000 invokes, 1/10/50 sandboxes', async (t) => {
  const config = parseConfig([], {})
  t.same(config.suites, SUITES)
  t.equal(config.invokes, 1000)
  t.same(config.scaleCounts, [1, 10, 50])
  t.same(config.extensionCounts, [0, 1, 5])
  t.equal(config.python, '/usr/bin/python3')
  t.equal(config.tiny, false)
})

t.test('tiny: a few iterations of everything, from the flag or BENCH_TINY', async (t) => {
  for (const config of [parseConfig(['--tiny'], {}), parseConfig([], { BENCH_TINY: '1' })]) {
    t.equal(config.tiny, true)
    t.same(config.suites, SUITES)
    t.ok(config.invokes < 100 && config.bootRuns <= 2)
  }
  t.equal(parseConfig([], { BENCH_TINY: '0' }).tiny, false)
})

t.test('flags win over variables', async (t) => {
  const config = parseConfig(['--invokes', '200', '--only', 'invoke,boot'], { BENCH_INVOKES: '50', BENCH_ONLY: 'memory', BENCH_SCALE: '2,4' })
  t.equal(config.invokes, 200)
  t.same(config.suites, ['boot', 'invoke'], 'in run order')
  t.same(config.scaleCounts, [2, 4])
})

t.test('bad values name the option and what was expected', async (t) => {
  t.throws(() => parseConfig(['--invokes', '0'], {}), { name: 'BenchUsageError', message: 'option --invokes: expected a whole number ≥ 1, got "0"' })
  t.throws(() => parseConfig(['--only', 'boot,warp'], {}), { message: /option --only: expected some of boot, invoke, shutdown, scale, memory, cli, check, got "warp"/ })
  t.throws(() => parseConfig(['--nope'], {}), BenchUsageError)
})
