// The CLI's runtime launch and run flags as a user types them (real `node dist/harness/cli.js`
// processes): `init --runtime provided.al2023` scaffolds a custom runtime that `run` runs clean;
// run's pre-flight refuses a missing or non-executable bootstrap (exit 2); `{SINK_URL}` in an
// `--env` value is the --sink collector; `--client-context` and `--account-id` reach the function.
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import type { RunRecord } from '../harness/index.js'
import { cli } from './cli-process.js'
import { EXTENSIONS, PYTHON, fn } from './helpers.js'

function tempDir(t: Test, prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

t.test('init --runtime provided.al2023 scaffolds a custom runtime that runs clean', async (t) => {
  const dir = path.join(tempDir(t, 'lh-init-'), 'fn')
  const init = await cli(['init', dir, '--runtime', 'provided.al2023'])
  t.equal(init.exitCode, 0, init.stderr)
  for (const file of ['bootstrap', 'function.sh', 'events/test-event.json', 'README.md']) {
    t.ok(existsSync(path.join(dir, file)), file)
  }
  t.notOk(existsSync(path.join(dir, 'lambda_function.py')), 'no Python function')
  const run = await cli(['run', dir, '--runtime', 'provided.al2023', '--handler', 'function.handler', '--event', path.join(dir, 'events', 'test-event.json'), '--invokes', '2', '--json', '-'])
  const record = JSON.parse(run.stdout) as RunRecord
  t.equal(run.exitCode, 0, `${run.stderr}${JSON.stringify(record.verdict.problems)}`)
  t.same(record.invocations.map((i) => [i.status, i.response]), [
    ['success', '{"statusCode":200,"body":"Hello from a custom runtime"}'],
    ['success', '{"statusCode":200,"body":"Hello from a custom runtime"}'],
  ])
  t.same(record.runtime.command, ['/var/task/bootstrap'])

  const bad = await cli(['init', path.join(tempDir(t, 'lh-init-'), 'fn'), '--runtime', 'provided.al1'])
  t.equal(bad.exitCode, 2)
  t.match(bad.stderr, /^lambda-harness: option --runtime: expected one of python3\.14, .*provided\.al2023, provided\.al2, got "provided\.al1"\n$/)
})

t.test("run's pre-flight: a missing or non-executable bootstrap is exit 2 (Runtime.InvalidEntrypoint on Lambda)", async (t) => {
  const missing = await cli(['run', fn('custom-runtime-demo'), '--runtime', 'provided.al2023', '--handler', 'function.handler'])
  t.equal(missing.exitCode, 2)
  t.match(missing.stderr, /no bootstrap in the function folder .* or a layer \(Lambda would fail Init with Runtime\.InvalidEntrypoint: Couldn't find valid bootstrap\(s\): \[\/var\/task\/bootstrap \/opt\/bootstrap\]\)/)
  t.equal(missing.stdout, '', 'nothing ran')

  const dir = tempDir(t, 'lh-bootstrap-')
  writeFileSync(path.join(dir, 'bootstrap'), '#!/bin/sh\nexit 0\n')
  chmodSync(path.join(dir, 'bootstrap'), 0o644)
  const notExecutable = await cli(['run', dir, '--runtime', 'provided.al2', '--handler', 'function.handler'])
  t.equal(notExecutable.exitCode, 2)
  t.match(notExecutable.stderr, /\/var\/task\/bootstrap \(.*\/bootstrap\) is not executable \(Lambda would fail Init with Runtime\.InvalidEntrypoint\)/)
})

t.test('{SINK_URL} in a --env value is the --sink collector', async (t) => {
  const run = await cli(['run', fn('returns-env'), '--handler', 'app.handler', '--python', PYTHON, '--sink', '--env', 'DISPATCH_POST_URI={SINK_URL}/telemetry', '--json', '-'])
  t.equal(run.exitCode, 0, run.stderr)
  const env = JSON.parse((JSON.parse(run.stdout) as RunRecord).invocations[0]?.response ?? '{}') as Record<string, string>
  t.match(env.SINK_URL, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.equal(env.DISPATCH_POST_URI, `${env.SINK_URL}/telemetry`)

  const noSink = await cli(['run', fn('returns-env'), '--handler', 'app.handler', '--python', PYTHON, '--env', 'DISPATCH_POST_URI={SINK_URL}/telemetry'])
  t.equal(noSink.exitCode, 2)
  t.equal(noSink.stderr, 'lambda-harness: option --env: expected sink: true (--sink) for DISPATCH_POST_URI, whose value names {SINK_URL}, got "{SINK_URL}/telemetry"\n')
})

t.test('--client-context and --account-id reach the function; bad values are exit 2', async (t) => {
  const run = await cli([
    'run', fn('echo'), '--handler', 'app.context_info', '--python', PYTHON, '--invokes', '2',
    '--client-context', '{"custom":{"tenant":"blue"},"env":{"platform":"test"}}', '--account-id', '210987654321', '--json', '-',
  ])
  t.equal(run.exitCode, 0, run.stderr)
  for (const invocation of (JSON.parse(run.stdout) as RunRecord).invocations) {
    const context = JSON.parse(invocation.response) as { client_context: unknown; invoked_function_arn: string }
    t.match(context.client_context, { custom: { tenant: 'blue' }, env: { platform: 'test' } })
    t.equal(context.invoked_function_arn, 'arn:aws:lambda:us-east-1:210987654321:function:harness-function')
  }
  const cases: [string[], RegExp][] = [
    [['--client-context', '[1, 2]'], /^lambda-harness: option --client-context: expected a JSON object, got "\[1, 2\]"\n$/],
    [['--client-context', '{"custom":'], /^lambda-harness: option --client-context: expected a JSON object \(.*\), got "\{\\"custom\\":"\n$/],
    [['--client-context', JSON.stringify({ custom: { pad: 'x'.repeat(2700) } })], /^lambda-harness: option --client-context: expected at most 3583 bytes once base64-encoded, got "3628 bytes"\n$/],
    [['--account-id', '12345'], /^lambda-harness: option --account-id: expected twelve digits, got "12345"\n$/],
  ]
  for (const [flags, message] of cases) {
    const bad = await cli(['run', fn('echo'), '--handler', 'app.handler', '--python', PYTHON, ...flags])
    t.equal(bad.exitCode, 2, flags.join(' ').slice(0, 40))
    t.match(bad.stderr, message)
  }
})

t.test('check refuses an OS-only runtime: its init, timeout and failure scenarios run a Python function', async (t) => {
  const check = await cli(['check', path.join(EXTENSIONS, 'well-behaved'), '--runtime', 'provided.al2023'])
  t.equal(check.exitCode, 2)
  t.equal(check.stderr, 'lambda-harness: option --runtime: expected one of python3.14, python3.13, python3.12, python3.11, python3.10 (check runs a Python function), got "provided.al2023"\n')
})
