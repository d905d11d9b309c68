// `lambda-harness` as a user runs it: a real `node dist/harness/cli.js` process. The DESIGN.md
// contracts: exit 0 clean, 1 not clean, 2 bad usage or input (message on stderr, nothing
// started), and the RunRecord that `--json` writes.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import type { ProcessRecord, RunRecord } from '../harness/index.js'
import { PYTHON, SYSTEM_PYTHON, canaryExtension, extensionsDir, fn, until } from './helpers.js'
import { cli, tempDir, type CliResult } from './cli-process.js'

/** Runs independent CLI processes a few at a time (each is mostly Node's start-up). */
async function cliAll(runs: readonly (readonly string[])[], concurrency = 3): Promise<CliResult[]> {
  const results: CliResult[] = []
  let next = 0
  const worker = async () => {
    while (next < runs.length) {
      const index = next++
      results[index] = await cli(runs[index]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, runs.length) }, worker))
  return results
}

/** An extensions folder whose one extension, if it is ever started, tells the test (helpers.ts). */
async function canary(t: Test): Promise<{ dir: string; started: () => number; hostPort: string[] }> {
  const dir = path.join(tempDir(t, 'lh-cli-canary-'), 'extensions')
  mkdirSync(dir)
  const started = await canaryExtension(t, dir)
  return { dir, started, hostPort: ['--host-port', String(started.port)] }
}


t.test('--help exits 0 with the usage; no arguments exits 2 with it', async (t) => {
  const help = await cli(['--help'])
  t.equal(help.exitCode, 0)
  t.match(help.stdout, /^lambda-harness: /)
  t.match(help.stdout, /lambda-harness run <function-dir> --handler <module\.fn> \[options\]/)
  t.match(help.stdout, /Exit codes: 0 ran and clean; 1 ran and not clean; 2 bad usage/)
  t.equal(help.stderr, '')

  const none = await cli([])
  t.equal(none.exitCode, 2, 'no command is bad usage')
  // DESIGN.md wants bad usage on stderr; today the usage goes to stdout (see the report). Either shows it.
  t.ok([none.stdout, none.stderr].includes(help.stdout), 'and shows the same usage')
})

t.test('bad usage and bad input: exit 2, one message on stderr naming the option, nothing started', async (t) => {
  const { dir, started, hostPort } = await canary(t)
  const work = tempDir(t, 'lh-cli-input-')
  const notJson = path.join(work, 'event.json')
  writeFileSync(notJson, '{"unterminated": ')
  const missingEvent = path.join(work, 'missing.json')
  const echo = fn('echo')
  const base = ['--extensions', dir, '--python', PYTHON, ...hostPort]
  const cases: [string, string[], RegExp][] = [
    ['a missing --handler', ['run', echo, ...base], /^option --handler: expected module\.function \(e\.g\. app\.handler\), got nothing$/],
    ['an unknown flag', ['run', echo, '--handler', 'app.handler', '--frobnicate', ...base], /^Unknown option '--frobnicate'/],
    // The folder is named as the API names it, functionDir (see the report: <function-dir> would be the CLI's word).
    ['a missing folder', ['run', '/no/such/function', '--handler', 'app.handler', ...base], /^option (functionDir|<function-dir>): folder "\/no\/such\/function" does not exist$/],
    ['a bad --runtime', ['run', echo, '--handler', 'app.handler', '--runtime', 'python2.7', ...base], /^option (--)?runtime: expected one of python3\.14, .*python3\.10, provided\.al2023, provided\.al2, got "python2\.7"$/],
    ['a missing --event file', ['run', echo, '--handler', 'app.handler', '--event', missingEvent, ...base], /^option --event: cannot read ".*missing\.json" \(ENOENT\)$/],
    ['an --event file that is not JSON', ['run', echo, '--handler', 'app.handler', '--event', notJson, ...base], /^option --event .*event\.json: expected JSON, got /],
    ['an --env without "="', ['run', echo, '--handler', 'app.handler', '--env', 'NOEQUALS', ...base], /^option --env: expected KEY=VALUE, got "NOEQUALS"$/],
    ['a bad --runtime-client', ['run', echo, '--handler', 'app.handler', '--runtime-client', 'rapid', ...base], /^option --runtime-client: expected builtin \| awslambdaric \| image, got "rapid"$/],
    // Debian's interpreter has no awslambdaric (it comes from PyPI, into .venv).
    [
      '--runtime-client awslambdaric with an interpreter that cannot import it',
      ['run', echo, '--handler', 'app.handler', '--runtime-client', 'awslambdaric', '--extensions', dir, '--python', SYSTEM_PYTHON],
      /^option --runtime-client: expected an interpreter that can import awslambdaric .*got "\/usr\/bin\/python3" \(ModuleNotFoundError: No module named 'awslambdaric'\)$/,
    ],
  ]
  const results = await cliAll(cases.map(([, args]) => args))
  cases.forEach(([name, , message], index) => {
    const result = results[index]!
    t.equal(result.exitCode, 2, `${name}: exit 2${result.timedOut ? ' (timed out)' : ''}`)
    const lines = result.stderr.split('\n').filter((line) => line !== '')
    t.equal(lines.length, 1, `${name}: one line on stderr`)
    t.match(lines[0], /^lambda-harness: /, `${name}: prefixed with the program name`)
    t.match(lines[0]?.slice('lambda-harness: '.length), message, `${name}: ${lines[0]}`)
    t.equal(result.stdout, '', `${name}: nothing on stdout`)
  })
  t.equal(started(), 0, 'the canary extension never ran')
  // One exact text, as a user sees it.
  t.equal(results[cases.findIndex(([name]) => name === 'an --env without "="')]?.stderr, 'lambda-harness: option --env: expected KEY=VALUE, got "NOEQUALS"\n')

  // The control: with valid flags the canary does run and, never registering, fails Init.
  const file = path.join(work, 'record.json')
  const control = await cli(['run', echo, '--handler', 'app.handler', ...base, '--json', file, '--quiet'])
  // Once in Init and once more in the suppressed Init of the first invoke.
  t.ok(await until(() => started() >= 1), 'the canary runs once the flags are valid')
  t.equal(control.exitCode, 1, 'a failed Init is a run that is not clean: exit 1')
  t.equal(control.stdout, '', '--quiet: no report')
  const record = JSON.parse(readFileSync(file, 'utf8')) as RunRecord
  t.match(record.init, { status: 'error', errorType: 'Extension.Crash' }, '--json <file> wrote the record')
  t.equal(record.verdict.clean, false)
})

t.test('a clean run exits 0 with the text report', async (t) => {
  const result = await cli(['run', fn('echo'), '--handler', 'app.handler', '--python', PYTHON, '--event-json', '{"hello": "wörld"}', '--invokes', '2'])
  t.equal(result.exitCode, 0, result.stderr)
  const report = result.stdout
  t.match(report, new RegExp(`^lambda-harness \\d+\\.\\d+\\.\\d+: ${fn('echo')} \\(app\\.handler\\)\n`))
  t.match(report, new RegExp(`\nRuntime: python3\\.12 \\(Amazon Linux 2023\\), interpreter ${PYTHON.replace(/[./]/g, '\\$&')} 3\\.\\d+\\.\\d+\n`))
  t.match(report, /\nInit: success in \d+\.\d ms, no extensions\n/)
  t.match(report, /\nInvocations \(2\):\n {2}1\. [0-9a-f-]{36} {2}success {2}\d+\.\d ms\n {5}\{"hello": "wörld"\}\n {2}2\. /)
  t.match(report, /\nShutdown \(reason spindown\): \d+\.\d ms; window 0 ms, runtime share 0 ms\n/)
  t.match(report, /SIGKILL \(shutdown without extensions\)/, 'no extensions: the runtime is SIGKILLed, as Lambda does')
  t.match(report, /\nVerdict: clean\n$/)
  t.comment(`clean run: ${result.ms.toFixed(0)} ms`)
})

t.test('runs that are not clean exit 1', async (t) => {
  const [ignored, timedOut] = await cliAll([
    ['run', fn('echo'), '--handler', 'app.handler', '--python', PYTHON, '--extensions', extensionsDir(t, ['ignores-shutdown'])],
    ['run', fn('sleeps'), '--handler', 'app.handler', '--python', PYTHON, '--timeout', '0.5', '--event-json', '{"seconds": 30}'],
  ])
  if (ignored === undefined || timedOut === undefined) {
    throw new Error('missing results')
  }
  t.equal(ignored.exitCode, 1, 'an extension that ignores SHUTDOWN')
  t.match(ignored.stdout, /\nVerdict: 1 problem\(s\)\n {2}✗ extension `ignores-shutdown` received SHUTDOWN but did not exit before the 2000 ms deadline and was killed\n$/)
  t.equal(timedOut.exitCode, 1, 'a function that times out')
  t.match(timedOut.stdout, / timeout Sandbox\.Timedout /)
  t.match(timedOut.stdout, /Task timed out after 0\.50 seconds/)
  t.match(timedOut.stdout, /✗ the sandbox was reset with reason timeout/)
  t.comment(`ignores-shutdown run ${ignored.ms.toFixed(0)} ms, timeout run ${timedOut.ms.toFixed(0)} ms (side by side)`)
})

t.test('--json - prints the RunRecord with the DESIGN.md contract fields', async (t) => {
  const result = await cli([
    'run',
    fn('raises'),
    '--handler',
    'app.handler',
    '--python',
    PYTHON,
    '--extensions',
    extensionsDir(t, ['well-behaved']),
    '--invokes',
    '2',
    '--json',
    '-',
  ])
  t.equal(result.exitCode, 0, 'a function error is a result: the run is clean')
  const record = JSON.parse(result.stdout) as RunRecord
  t.equal(record.runtime.profile, 'python3.12')
  t.equal(record.init?.status, 'success')
  t.equal(record.invocations.length, 2)
  for (const invocation of record.invocations) {
    t.match(invocation, { requestId: /^[0-9a-f-]{36}$/, status: 'error', errorType: 'Runtime.Unknown', response: String, durationMs: Number })
    t.match(JSON.parse(invocation.response), { errorType: 'KeyError', requestId: invocation.requestId })
  }
  const shutdown = record.shutdown
  t.match(shutdown, { reason: 'spindown', durationMs: Number })
  const processFields = (p: ProcessRecord | null | undefined, name: string) => {
    t.match(p, { name, signals: Array, events: Array, exit: Object, killed: Boolean, exitedAtMs: Number }, `${name} has the process fields`)
    t.ok(p?.exit !== null && p?.exit !== undefined && 'code' in p.exit && 'signal' in p.exit, `${name}: exit is {code, signal}`)
  }
  processFields(shutdown?.runtime, 'runtime')
  t.equal(shutdown?.extensions.length, 1)
  processFields(shutdown?.extensions[0], 'well-behaved')
  t.same(shutdown?.runtime?.signals.map((s) => s.signal), ['SIGTERM'], 'with an extension the runtime gets SIGTERM')
  t.same(shutdown?.extensions[0]?.events.map((e) => e.eventType), ['INVOKE', 'INVOKE', 'SHUTDOWN'])
  t.same(shutdown?.extensions[0]?.exit, { code: 0, signal: null })
  t.equal(shutdown?.extensions[0]?.killed, false)
  t.same(record.verdict, { clean: true, problems: [] })
  t.ok(Array.isArray(record.timeline) && record.timeline.length > 0, 'a timeline')
  t.ok(record.timeline.every((e) => typeof e.atMs === 'number' && typeof e.kind === 'string' && typeof e.detail === 'string'))
  t.ok(record.timeline.some((e) => e.kind === 'output' && e.process === 'runtime' && e.detail.startsWith('[ERROR] KeyError')), 'output lines are in it')
  t.ok(typeof record.resources === 'object' && record.resources !== null, 'resources')
  t.notOk(result.stdout.includes('Verdict:'), 'no text report mixed into the JSON')
})
