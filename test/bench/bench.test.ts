// The bench in tiny mode, end to end, so it never rots: it runs every suite on both sides, writes
// RESULTS.md and the JSON where it is told (never bench/RESULTS.md), leaves no process behind and
// produces numbers. It asserts that numbers exist, never how fast anything is.
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { SUITES } from '../../bench/config.js'
import type { BenchResults } from '../../bench/report.js'

const RUN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'run.js')
const DEFAULT_RESULTS = path.resolve(path.dirname(RUN), '..', '..', 'bench', 'RESULTS.md')

t.test('npm run bench, tiny: every suite runs and produces numbers', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lh-bench-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const markdown = path.join(dir, 'RESULTS.md')
  const json = path.join(dir, 'results.json')
  const before = existsSync(DEFAULT_RESULTS) ? readFileSync(DEFAULT_RESULTS, 'utf8') : undefined

  const { stdout } = await promisify(execFile)(process.execPath, [RUN, '--tiny', '--out', markdown, '--json', json], {
    timeout: 110_000,
    killSignal: 'SIGKILL',
  })

  const results = JSON.parse(readFileSync(json, 'utf8')) as BenchResults
  t.equal(results.config.tiny, true)
  t.same(results.config.suites, SUITES, 'every suite ran')
  t.equal(results.processes.leftover, 0, 'no process outlived its sandbox')
  t.ok(results.processes.checked > 0, 'the processes were checked')
  for (const suite of SUITES) {
    t.ok(results.figures.some((f) => f.suite === suite), `${suite} produced figures`)
  }
  for (const f of results.figures) {
    for (const [side, spread] of [['harness', f.harness], ['baseline', f.baseline]] as const) {
      t.ok(spread.n >= 1 && Number.isFinite(spread.median), `${f.name}: a ${side} number (${spread.median})`)
    }
    if (f.unit !== 'MB') {
      // Memory deltas may be 0 or negative after GC; times and rates are positive.
      t.ok(f.harness.median > 0 && f.baseline.median > 0 && Number.isFinite(f.ratio), `${f.name}: positive, with a ratio`)
    }
  }
  t.ok(results.machine.cores > 0 && results.machine.python !== '' && results.machine.node.startsWith('v'), 'the machine is described')

  const text = readFileSync(markdown, 'utf8')
  t.match(text, /^# Bench results/)
  t.match(text, /## Machine/)
  for (const f of results.figures) {
    t.ok(text.includes(`| ${f.name} |`), `RESULTS.md has a row for ${f.name}`)
  }
  t.match(stdout, /boot to ready, runtime only/, 'the table went to stdout')
  t.equal(existsSync(DEFAULT_RESULTS) ? readFileSync(DEFAULT_RESULTS, 'utf8') : undefined, before, 'bench/RESULTS.md was left alone')
})
