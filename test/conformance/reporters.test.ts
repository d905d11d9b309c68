// The reporters on a report made by hand (no sandbox: fast), with the characters that break naive
// writers (<, &, ", #, newlines, control characters), read back the way CI tools read them; and
// how failures that follow from another check's failure are folded into it.
import t from 'tap'
import { formatCheckReport, type CheckReport, type CheckResult, type RunRecord } from '../../harness/index.js'
import { resolveBlocked } from '../../harness/conformance/runner.js'
import { parseJunit, parseTap } from './parse.js'

function result(id: string, outcome: CheckResult['outcome'], extra: Partial<CheckResult> = {}): CheckResult {
  const [scenario = '', check = ''] = id.split('/')
  return {
    id,
    scenario: scenario as CheckResult['scenario'],
    check,
    extension: 'my-ext',
    outcome,
    summary: `${check} summary`,
    expected: `${check} expected`,
    happened: `${check} happened`,
    fix: outcome === 'fail' ? `${check} fix` : '',
    data: {},
    ...extra,
  }
}

const record = { function: { dir: '/f', handler: 'app.handler' } } as unknown as RunRecord

function report(checks: CheckResult[]): CheckReport {
  const failed = checks.filter((c) => c.outcome === 'fail').length
  return {
    harness: { name: 'lambda-harness', version: '0.1.0' },
    target: { input: 'ext <&> "q"', kind: 'extension file', extensions: ['my-ext'] },
    function: { dir: '/f', handler: 'app.handler', builtin: true },
    runtime: { profile: 'python3.12', python: '/usr/bin/python3', pythonVersion: '3.11.2' },
    startedAt: '2025-01-01T00:00:00.000Z',
    durationMs: 1234,
    postgres: { used: false, why: 'no file of the layer mentions DATABASE_URL', startMs: null },
    warnings: [],
    scenarios: [
      { name: 'registers', title: 'registers <title>', function: 'built-in', durationMs: 500, sinkRequests: 0, record },
      { name: 'shutdown-spindown', title: 'spindown & co', function: 'built-in', durationMs: 700, sinkRequests: 0, record },
    ],
    checks,
    summary: { total: checks.length, passed: checks.filter((c) => c.outcome === 'pass').length, failed, skipped: checks.filter((c) => c.outcome === 'skip').length },
    ok: failed === 0,
  }
}

const CHECKS = [
  result('registers/name', 'pass', { summary: 'registered as `my-ext` 12 ms after it started', data: { registeredAfterMs: 12 } }),
  result('registers/events', 'fail', {
    summary: 'subscribes to [INVOKE] # not <SHUTDOWN> & "more"',
    happened: 'line one\nline two\u0001 with a control character',
    fix: 'add SHUTDOWN: {"events": ["INVOKE", "SHUTDOWN"]}',
  }),
  result('shutdown-spindown/receives-shutdown', 'skip', { summary: 'blocked: not subscribed (reported by registers/events)' }),
  result('shutdown-spindown/exits-before-deadline', 'pass', { summary: 'exited 3.0 ms after SHUTDOWN, 1990 ms before the deadline', data: { tookMs: 3, marginMs: 1990 } }),
]

t.test('TAP: valid TAP 14 that tap-parser reads strictly, with the counts and the diagnostics', async (t) => {
  const text = formatCheckReport(report(CHECKS), 'tap')
  const tap = await parseTap(text)
  t.same(tap.extra, [], 'every line is TAP')
  t.match(tap.final, { ok: false, count: 4, pass: 3, fail: 1, skip: 1, plan: { start: 1, end: 4 } })
  t.equal(tap.final.failures[0]?.name, 'registers/events')
  const diag = tap.diags.get('registers/events')
  t.match(diag, { summary: 'subscribes to [INVOKE] # not <SHUTDOWN> & "more"', fix: 'add SHUTDOWN: {"events": ["INVOKE", "SHUTDOWN"]}' }, 'the YAML block keeps the text exactly')
  t.match(diag?.happened, /^line one\nline two/)
  t.same(tap.diags.get('shutdown-spindown/exits-before-deadline')?.data, { tookMs: 3, marginMs: 1990 })
  t.equal(tap.final.skips[0]?.name, 'shutdown-spindown/receives-shutdown')
  const passing = await parseTap(formatCheckReport(report(CHECKS.filter((c) => c.outcome !== 'fail')), 'tap'))
  t.equal(passing.final.ok, true, 'no failure: TAP says ok')
})

t.test('JUnit: well-formed XML, a testsuite per scenario, failures and skips where they belong', async (t) => {
  const junit = await parseJunit(formatCheckReport(report(CHECKS), 'junit'))
  t.equal(junit.root.tag, 'testsuites')
  t.match(junit.root.attrs, { tests: '4', failures: '1', skipped: '1', errors: '0', name: 'lambda-harness check ext <&> "q"' })
  t.same(
    junit.suites.map((s) => [s.name, s.attrs.tests, s.attrs.failures, s.attrs.skipped]),
    [
      ['registers', '2', '1', '0'],
      ['shutdown-spindown', '2', '0', '1'],
    ],
  )
  t.same(
    junit.cases.map((c) => [c.classname, c.name, c.outcome]),
    [
      ['lambda-harness.check.registers', 'name', 'pass'],
      ['lambda-harness.check.registers', 'events', 'fail'],
      ['lambda-harness.check.shutdown-spindown', 'receives-shutdown', 'skip'],
      ['lambda-harness.check.shutdown-spindown', 'exits-before-deadline', 'pass'],
    ],
  )
  const failure = junit.cases[1]!
  t.equal(failure.message, 'subscribes to [INVOKE] # not <SHUTDOWN> & "more"')
  t.match(failure.text, /^expected: events expected\nhappened: line one\nline two\ufffd with a control character\nfix: add SHUTDOWN/)
})

t.test('text: a line per check with ✓ ✗ - and the key number; failures say expected, happened, fix', async (t) => {
  const text = formatCheckReport(report(CHECKS), 'text')
  t.match(text, /\n {2}✓ registers\/name +registered as `my-ext` 12 ms after it started\n/)
  t.match(text, /\n {2}✗ registers\/events +subscribes to \[INVOKE\]/)
  t.match(text, /\n {6}expected: events expected\n {6}happened: line one\n {16}line two.*\n {6}fix: {6}add SHUTDOWN/)
  t.match(text, /\n {2}- shutdown-spindown\/receives-shutdown +blocked: not subscribed/)
  t.match(text, /\nFAIL: 4 checks, 2 passed, 1 failed, 1 skipped in 1\.2 s\n$/)
})

t.test('JSON: the whole report, records included', async (t) => {
  const parsed = JSON.parse(formatCheckReport(report(CHECKS), 'json')) as CheckReport
  t.equal(parsed.checks.length, 4)
  t.same(parsed.scenarios[0]?.record, record)
})

t.test('a failure explained by its owner\'s failure becomes a skip naming the owner; otherwise it stands', async (t) => {
  const owner = result('registers/events', 'fail')
  const blocked = result('shutdown-spindown/receives-shutdown', 'fail', { summary: 'not subscribed', blockedBy: 'registers/events' })
  const chained = result('shutdown-spindown/exits-before-deadline', 'fail', { summary: 'no SHUTDOWN', blockedBy: 'shutdown-spindown/receives-shutdown' })
  const resolved = resolveBlocked([owner, blocked, chained])
  t.same(
    resolved.map((r) => [r.id, r.outcome]),
    [
      ['registers/events', 'fail'],
      ['shutdown-spindown/receives-shutdown', 'skip'],
      ['shutdown-spindown/exits-before-deadline', 'skip'],
    ],
  )
  t.equal(resolved[1]?.summary, 'blocked: not subscribed (reported by registers/events)')

  const passedOwner = resolveBlocked([result('registers/events', 'pass'), blocked])
  t.equal(passedOwner[1]?.outcome, 'fail', 'the owner passed: nothing else reports it')
  t.notOk('blockedBy' in passedOwner[1]!, 'and the pointer is dropped')
  t.equal(resolveBlocked([blocked])[0]?.outcome, 'fail', 'the owner did not run (--only): it stands')

  const a = result('freeze/keeps-up', 'fail', { blockedBy: 'invoke/keeps-up' })
  const b = result('invoke/keeps-up', 'fail', { blockedBy: 'freeze/keeps-up' })
  t.same(resolveBlocked([a, b]).map((r) => r.outcome), ['fail', 'fail'], 'a cycle explains nothing')

  const otherExtension = { ...blocked, extension: 'other' }
  t.equal(resolveBlocked([owner, otherExtension])[1]?.outcome, 'fail', 'owners are per extension')
})
