// `check` over several targets and `--shard i/n`: every (target, scenario) pair runs in exactly one
// shard, and the shards' JUnit files hold the same suites and test names as one unsharded run.
import path from 'node:path'
import { readFileSync } from 'node:fs'
import t from 'tap'
import { parseShard, planShard, shardSlice } from '../../harness/conformance/shard.js'
import { cli, tempDir } from '../cli-process.js'
import { parseJunit } from './parse.js'

t.test('shardSlice: contiguous slices, each item once, sizes within one (Playwright split)', async (t) => {
  for (let length = 0; length <= 13; length++) {
    const items = Array.from({ length }, (_, i) => i)
    for (let total = 1; total <= 6; total++) {
      const slices = Array.from({ length: total }, (_, i) => shardSlice(items, { index: i + 1, total }))
      t.same(slices.flat(), items, `${length} items in ${total} shards`)
      const sizes = slices.map((s) => s.length)
      t.ok(Math.max(...sizes) - Math.min(...sizes) <= 1)
    }
  }
  t.same(planShard(['a', 'b'], ['registers', 'init'], { index: 2, total: 3 }), [{ target: 'b', scenarios: ['registers'] }])
  t.same(planShard(['a'], ['registers'], { index: 2, total: 2 }), [], 'more shards than pairs: nothing to run')
})

t.test('--shard must be i/n with 1 ≤ i ≤ n', async (t) => {
  for (const bad of ['0/2', '3/2', '1/0', '1', 'a/b', '1/2/3', '']) {
    t.throws(() => parseShard(bad), { code: 'ERR_INVALID_OPTION', message: /^option --shard: expected i\/n with 1 ≤ i ≤ n \(e\.g\. 2\/4\), got / }, bad)
  }
  t.same(parseShard('2/4'), { index: 2, total: 4 })
})

t.test('two targets (one a template layer) in one call, and the shards merge into the same suites', async (t) => {
  const dir = tempDir(t, 'lh-shard-')
  const base = ['check', 'extensions/minimal-node', '--template', 'fixtures/templates/sam/template.yaml', '--layer', 'ToolsLayer', '--only', 'registers,shutdown-spindown', '--reporter', 'junit']
  const runs = await Promise.all(
    [[], ['--shard', '1/2'], ['--shard', '2/2']].map(async (extra, i) => {
      const out = path.join(dir, `junit-${i}.xml`)
      const run = await cli([...base, ...extra, '--out', out])
      t.equal(run.exitCode, 0, run.stderr)
      return parseJunit(readFileSync(out, 'utf8'))
    }),
  )
  const [whole, first, second] = runs as [Awaited<ReturnType<typeof parseJunit>>, Awaited<ReturnType<typeof parseJunit>>, Awaited<ReturnType<typeof parseJunit>>]
  t.same(
    whole.suites.map((s) => s.name),
    ['extensions/minimal-node registers', 'extensions/minimal-node shutdown-spindown', 'fixtures/templates/sam/layer registers', 'fixtures/templates/sam/layer shutdown-spindown'],
  )
  t.same(first.suites.map((s) => s.name), whole.suites.slice(0, 2).map((s) => s.name))
  t.same(second.suites.map((s) => s.name), whole.suites.slice(2).map((s) => s.name))
  const names = (j: typeof whole) => j.cases.map((c) => `${c.suite} ${c.classname} ${c.name}`)
  t.same([...names(first), ...names(second)], names(whole), 'the same test names')
  t.equal(first.root.attrs.name, whole.root.attrs.name, 'the same top-level name')
  t.ok(whole.cases.length > 0 && whole.cases.every((c) => c.outcome !== 'fail'), 'nothing failed')
})

t.test('check --template: bad usage exits 2 and starts nothing', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--layer', 'ToolsLayer'], /^lambda-harness: option --layer: expected --template <file> and --layer <LogicalId> together/],
    [['--template', 'fixtures/templates/sam/template.yaml', '--layer', 'OrdersFunction'], /has no layer "OrdersFunction" \(layers: ToolsLayer\)/],
    [['--template', 'fixtures/templates/sam/template.yaml'], /option --template: expected --template <file> and --layer <LogicalId> together/],
    [['extensions/minimal-node', '--shard', '3/2'], /option --shard: expected i\/n/],
  ]
  for (const [args, pattern] of cases) {
    const run = await cli(['check', ...args])
    t.equal(run.exitCode, 2, args.join(' '))
    t.match(run.stderr, pattern)
    t.equal(run.stdout, '')
  }
})
