// OS-only runtimes (provided.al2023, provided.al2; LAMBDA-SPEC §10.2): Lambda runs the function's
// bootstrap, else a layer's, with _HANDLER and no AWS_EXECUTION_ENV, and no interpreter of ours is
// involved. AWS's "custom runtime + two bash extensions" sample pattern passes in the sandbox; a
// missing or non-executable bootstrap fails Init with Runtime.InvalidEntrypoint.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { PYTHON, ROOT, fn, startSandbox, NO_BWRAP } from '../helpers.js'

const LAYERS = path.join(ROOT, 'fixtures', 'layers')

function tempFunction(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'lh-provided-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

t.test('the custom runtime + two bash extensions sample passes in the sandbox', { skip: NO_BWRAP }, async (t) => {
  const warnings: string[] = []
  const sandbox = await startSandbox(
    t,
    {
      functionDir: fn('custom-runtime-demo'),
      handler: 'function.handler',
      runtime: 'provided.al2',
      layers: [path.join(LAYERS, 'custom-runtime'), path.join(LAYERS, 'bash-extensions')],
      isolation: 'bwrap',
      timeoutSec: 10,
    },
    { warn: (w) => warnings.push(w) },
  )
  t.match(sandbox.record.init, { status: 'success', extensions: [{ name: 'extension1.sh', events: ['INVOKE', 'SHUTDOWN'] }, { name: 'extension2.sh' }] })
  t.same(sandbox.record.runtime.command, ['/opt/bootstrap'], "the layer's bootstrap: the function has none")
  t.match(sandbox.record.logs[0], /^INIT_START Runtime Version: provided:al2\.v0\t/, "INIT_START names the OS-only runtime as Lambda's logs do")
  for (const n of [1, 2]) {
    const result = await sandbox.invoke({ payload: `hello ${n}` })
    t.match(result, { status: 'success', response: `Echo: '{"payload":"hello ${n}"}'` })
  }
  const shutdown = await sandbox.shutdown()
  const record = sandbox.record
  t.equal(record.verdict.clean, true, JSON.stringify(record.verdict.problems))
  t.match(shutdown.runtime, { exit: { code: 0, signal: null }, killed: false, signals: [{ signal: 'SIGTERM' }] }, 'the runtime traps SIGTERM and exits 0')
  for (const extension of shutdown.extensions) {
    t.match(extension, { exit: { code: 0, signal: null }, killed: false }, `${extension.name} exits 0 on SHUTDOWN`)
    t.equal(extension.events.filter((e) => e.eventType === 'INVOKE').length, 2)
  }
  t.same(
    warnings.filter((w) => w.includes('deprecated')),
    ['runtime provided.al2 was deprecated on 2026-06-30; since 2026-07-31 Lambda refuses to create and since 2026-08-31 to update functions on it'],
    "provided.al2 is past AWS's dates",
  )
  t.notOk(warnings.some((w) => w.includes('Python')), 'no interpreter warning')
})

t.test("the bootstrap's environment: _HANDLER, no AWS_EXECUTION_ENV, nothing of Python's; /var/task/bootstrap before /opt/bootstrap", { skip: NO_BWRAP }, async (t) => {
  for (const isolation of ['bwrap', 'none'] as const) {
    const sandbox = await startSandbox(t, {
      functionDir: fn('provided-env'),
      handler: 'function.handler',
      runtime: 'provided.al2023',
      // A layer's bootstrap too: the function's own wins.
      layers: [path.join(LAYERS, 'custom-runtime')],
      // Not run: an OS-only runtime probes no interpreter.
      python: '/nonexistent/python3',
      isolation,
    })
    const answer = JSON.parse((await sandbox.invoke({})).response) as Record<string, string>
    const taskRoot = isolation === 'bwrap' ? '/var/task' : fn('provided-env')
    t.same(
      answer,
      { self: `${taskRoot}/bootstrap`, cwd: taskRoot, handler: 'function.handler', executionEnv: 'unset', pythonPath: 'unset', runtimeDir: 'unset' },
      isolation,
    )
    t.equal(sandbox.record.runtime.python, null)
    t.equal(sandbox.record.runtime.executionEnv, null)
  }
  const withRuntimeDir = await startSandbox(t, { functionDir: fn('provided-env'), handler: 'function.handler', runtime: 'provided.al2023', osOnlyRuntimeDir: true })
  t.equal((JSON.parse((await withRuntimeDir.invoke({})).response) as Record<string, string>).runtimeDir, '/var/runtime', 'osOnlyRuntimeDir sets LAMBDA_RUNTIME_DIR')
})

t.test('a missing or non-executable bootstrap fails Init with Runtime.InvalidEntrypoint', async (t) => {
  const missing = await startSandbox(t, { functionDir: fn('custom-runtime-demo'), handler: 'function.handler', runtime: 'provided.al2023', python: PYTHON })
  t.match(missing.record.init, { status: 'error', errorType: 'Runtime.InvalidEntrypoint' })
  const invoke = await missing.invoke({})
  t.match(invoke, { status: 'error', errorType: 'Runtime.InvalidEntrypoint' })
  t.match(JSON.parse(invoke.response), { errorType: 'Runtime.InvalidEntrypoint', errorMessage: /Error: Couldn't find valid bootstrap\(s\): \[\/var\/task\/bootstrap \/opt\/bootstrap\]$/ }, "RAPID's message")

  const dir = tempFunction(t)
  writeFileSync(path.join(dir, 'bootstrap'), '#!/bin/sh\nexit 0\n', { mode: 0o644 })
  const notExecutable = await startSandbox(t, { functionDir: dir, handler: 'function.handler', runtime: 'provided.al2023' })
  t.match(notExecutable.record.init, { status: 'error', errorType: 'Runtime.InvalidEntrypoint' })
  t.ok(notExecutable.record.timeline.some((e) => /^fatal: Runtime\.InvalidEntrypoint \(PermissionDenied: /.test(e.detail)), 'PermissionDenied')
})
