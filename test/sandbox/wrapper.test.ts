// Wrapper scripts (AWS_LAMBDA_EXEC_WRAPPER, LAMBDA-SPEC §10.1): on a managed Python runtime the
// wrapper runs with the interpreter command as its arguments, in the sandbox and as plain
// processes; a missing or non-executable wrapper fails Init with Runtime.ExitError (exit 127 /
// 126) and its message in the record; OS-only runtimes ignore the variable. The Runtime API proxy
// pattern (an extension on 127.0.0.1:9009 and a wrapper pointing the runtime at it) changes
// nothing a caller or the verdict sees, and the record shows every proxied call.
import { chmodSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import type { RunRecord } from '../../harness/index.js'
import type { IsolationMode } from '../../harness/config/options.js'
import { PYTHON_BOOTSTRAP } from '../../harness/paths.js'
import { PYTHON, ROOT, extensionsDir, fn, startSandbox, NO_BWRAP } from '../helpers.js'

const LAYERS = path.join(ROOT, 'fixtures', 'layers')
const INSTRUMENTATION = path.join(LAYERS, 'instrumentation-wrapper')
const PROXY = path.join(LAYERS, 'runtime-api-proxy')

function tempLayer(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'lh-wrapper-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function output(record: RunRecord, process: string): string[] {
  return record.timeline.filter((e) => e.kind === 'output' && e.process === process).map((e) => e.detail)
}

for (const isolation of ['bwrap', 'none'] as const satisfies readonly IsolationMode[]) {
  t.test(`an instrumentation wrapper in a layer runs the runtime (${isolation})`, { skip: isolation === 'bwrap' && NO_BWRAP }, async (t) => {
    const sandbox = await startSandbox(t, {
      functionDir: fn('instrumented'),
      layers: [INSTRUMENTATION],
      env: { AWS_LAMBDA_EXEC_WRAPPER: '/opt/instrument' },
      isolation,
    })
    const result = await sandbox.invoke({})
    t.equal(result.status, 'success', result.response)
    const answer = JSON.parse(result.response) as Record<string, string>
    const opt = isolation === 'bwrap' ? '/opt' : INSTRUMENTATION
    t.equal(answer.module, `${opt}/instrumentation/instrumentation_probe.py`, 'the module the wrapper put on PYTHONPATH')
    t.equal(answer.instrumentedBy, 'instrument', 'the variable the wrapper set')
    const bootstrap = isolation === 'bwrap' ? '/var/runtime/bootstrap.py' : PYTHON_BOOTSTRAP
    t.equal(answer.wrappedCommand, `${PYTHON} ${bootstrap}`, "the wrapper's arguments: the interpreter and Lambda's bootstrap, the handler coming from _HANDLER")
    await sandbox.shutdown()
    t.equal(sandbox.record.verdict.clean, true, JSON.stringify(sandbox.record.verdict.problems))
  })
}

t.test('a wrapper that does not exist or is not executable fails Init with Runtime.ExitError', { skip: NO_BWRAP }, async (t) => {
  const layer = tempLayer(t)
  writeFileSync(path.join(layer, 'plain-file'), '#!/bin/sh\nexec "$@"\n')
  chmodSync(path.join(layer, 'plain-file'), 0o644)
  for (const [wrapper, code, message] of [
    ['/opt/missing-wrapper', 127, '/opt/missing-wrapper: does not exist'],
    ['/opt/plain-file', 126, '/opt/plain-file: is not an executable'],
  ] as const) {
    const sandbox = await startSandbox(t, { functionDir: fn('echo'), layers: [layer], env: { AWS_LAMBDA_EXEC_WRAPPER: wrapper }, isolation: 'bwrap' })
    const record = sandbox.record
    t.match(record.init, { status: 'error', errorType: 'Runtime.ExitError' }, wrapper)
    const runtime = record.processes.find((p) => p.name === 'runtime')
    t.same(runtime?.exit, { code, signal: null }, `exit ${code}`)
    t.ok(output(record, 'runtime').includes(message), `the bootstrap's message is in the record: ${message}`)
    t.ok(record.timeline.some((e) => e.detail === `fatal: Runtime.ExitError (Runtime exited with error: exit status ${code})`))
    const invoke = await sandbox.invoke({})
    t.match(invoke, { status: 'error', errorType: 'Runtime.ExitError' }, 'the suppressed Init fails the same way')
  }
})

t.test('an OS-only runtime ignores AWS_LAMBDA_EXEC_WRAPPER', { skip: NO_BWRAP }, async (t) => {
  const sandbox = await startSandbox(t, {
    functionDir: fn('provided-env'),
    handler: 'function.handler',
    runtime: 'provided.al2023',
    env: { AWS_LAMBDA_EXEC_WRAPPER: '/opt/missing-wrapper' },
  })
  t.equal(sandbox.record.init?.status, 'success')
  const answer = JSON.parse((await sandbox.invoke({})).response) as Record<string, string>
  t.equal(answer.self, '/var/task/bootstrap', 'the bootstrap ran itself, not through the wrapper')
})

t.test('the Runtime API proxy pattern: invokes, errors and Shutdown as without the proxy, every call in the record', { skip: NO_BWRAP }, async (t) => {
  const results = []
  for (const proxied of [false, true]) {
    for (const name of ['echo', 'raises']) {
      const sandbox = await startSandbox(t, {
        functionDir: fn(name),
        // Without the proxy, another extension: with none at all Lambda's Shutdown SIGKILLs the runtime.
        ...(proxied ? { layers: [PROXY], env: { AWS_LAMBDA_EXEC_WRAPPER: '/opt/proxy-wrapper' } } : { extensionsDir: extensionsDir(t, ['well-behaved']) }),
        isolation: 'bwrap',
      })
      const first = await sandbox.invoke({ n: 1 })
      const second = await sandbox.invoke({ n: 2 })
      const shutdown = await sandbox.shutdown()
      const record = sandbox.record
      t.equal(record.verdict.clean, true, `${name}${proxied ? ' (proxied)' : ''}: ${JSON.stringify(record.verdict.problems)}`)
      results.push({ name, proxied, runtimeExit: shutdown.runtime?.exit, calls: [first, second].map((r) => ({ status: r.status, errorType: r.errorType, response: r.response.replace(r.requestId, '<id>') })) })
      if (proxied) {
        const lines = output(record, 'runtime-api-proxy')
        for (const invoke of [first, second]) {
          const verb = name === 'echo' ? 'response' : 'error'
          t.ok(lines.includes(`[runtime-api-proxy] POST /2018-06-01/runtime/invocation/${invoke.requestId}/${verb} -> 202`), `${name}: the proxy logged the ${verb} of ${invoke.requestId}`)
        }
        t.equal(lines.filter((l) => l === '[runtime-api-proxy] GET /2018-06-01/runtime/invocation/next -> 200').length, 2, 'and each /next that got an event')
        const proxy = shutdown.extensions.find((e) => e.name === 'runtime-api-proxy')
        t.match(proxy, { exit: { code: 0, signal: null }, killed: false }, 'the proxy exits 0 on SHUTDOWN')
        t.ok(proxy?.events.some((e) => e.eventType === 'SHUTDOWN'))
      }
    }
  }
  for (const name of ['echo', 'raises']) {
    const plain = results.find((r) => r.name === name && !r.proxied)
    const proxied = results.find((r) => r.name === name && r.proxied)
    t.same(proxied?.calls, plain?.calls, `${name}: the caller sees the same results through the proxy`)
    t.same(proxied?.runtimeExit, plain?.runtimeExit, `${name}: the runtime ends its Shutdown the same way`)
  }
})

t.test('a wrapper in the function folder works too (/var/task)', { skip: NO_BWRAP }, async (t) => {
  const dir = tempLayer(t)
  cpSync(fn('returns-env'), dir, { recursive: true })
  writeFileSync(path.join(dir, 'wrap'), '#!/bin/sh\nexport WRAPPED=yes\nexec "$@"\n', { mode: 0o755 })
  const sandbox = await startSandbox(t, { functionDir: dir, env: { AWS_LAMBDA_EXEC_WRAPPER: '/var/task/wrap' }, isolation: 'bwrap' })
  const env = JSON.parse((await sandbox.invoke({})).response) as Record<string, string>
  t.equal(env.WRAPPED, 'yes')
  t.equal(env.AWS_LAMBDA_EXEC_WRAPPER, '/var/task/wrap', 'the runtime sees the variable as the function set it')
})

t.test('the Runtime API proxy pattern works as plain processes too', async (t) => {
  const sandbox = await startSandbox(t, { functionDir: fn('echo'), layers: [PROXY], env: { AWS_LAMBDA_EXEC_WRAPPER: '/opt/proxy-wrapper' }, isolation: 'none' })
  const result = await sandbox.invoke({ plain: true })
  t.match(result, { status: 'success', response: '{"plain": true}' })
  await sandbox.shutdown()
  const record = sandbox.record
  t.equal(record.verdict.clean, true, JSON.stringify(record.verdict.problems))
  t.ok(output(record, 'runtime-api-proxy').includes(`[runtime-api-proxy] POST /2018-06-01/runtime/invocation/${result.requestId}/response -> 202`))
})
