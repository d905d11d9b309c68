// Whether a runtime killed at the end of its share is blamed (runtime-overran-share) depends on
// the profile and on where the runtime was, not on which Python client ran: up to python3.11 a
// handler cannot run while the client waits in /next (LAMBDA-SPEC §3.3), and can mid-invoke.
import t, { type Test } from 'tap'
import type { RunRecord } from '../../harness/index.js'
import type { RuntimeClient } from '../../harness/config/options.js'
import { VENV_PYTHON, extensionsDir, fn, startSandbox } from '../helpers.js'
import { existsSync } from 'node:fs'

const CLIENTS: readonly RuntimeClient[] = ['builtin', 'awslambdaric']

function codes(record: RunRecord): string[] {
  return record.verdict.problems.map((p) => p.code)
}

function ranHandler(record: RunRecord): boolean {
  return record.timeline.some((e) => e.kind === 'output' && e.process === 'runtime' && e.detail === 'SIGTERM received, hanging')
}

async function boot(t: Test, runtimeClient: RuntimeClient) {
  return startSandbox(t, {
    functionDir: fn('sigterm-handler-hangs'),
    extensionsDir: extensionsDir(t, ['well-behaved']),
    runtime: 'python3.11',
    runtimeClient,
    python: VENV_PYTHON,
    timeoutSec: 1,
  })
}

t.test('python3.11, SIGTERM while the runtime waits in /next', { skip: !existsSync(VENV_PYTHON) && 'no .venv (make setup)' }, async (t) => {
  for (const client of CLIENTS) {
    t.test(client, async (t) => {
      const sandbox = await boot(t, client)
      t.equal((await sandbox.invoke({})).status, 'success')
      await sandbox.shutdown({ reason: 'spindown' })
      const runtime = sandbox.record.shutdown?.runtime
      t.equal(runtime?.sigtermHandler, true, 'a handler was installed')
      t.equal(runtime?.waitingForNext, true)
      t.equal(runtime?.killed, true, 'killed at the end of its share')
      t.notOk(ranHandler(sandbox.record), 'the handler never ran: the client held the main thread in /next')
      t.same(codes(sandbox.record), [], 'how Lambda works on 3.11, not the function\'s fault')
    })
  }
})

t.test('python3.11, SIGTERM mid-invoke (a timeout reset): the handler runs, hangs, and is blamed', { skip: !existsSync(VENV_PYTHON) && 'no .venv (make setup)' }, async (t) => {
  for (const client of CLIENTS) {
    t.test(client, async (t) => {
      const sandbox = await boot(t, client)
      const timedOut = await sandbox.invoke({ sleep: 30 })
      t.equal(timedOut.status, 'timeout')
      const reset = sandbox.record.resets[0]
      t.equal(reset?.runtime?.waitingForNext, false)
      t.equal(reset?.runtime?.killed, true)
      t.ok(ranHandler(sandbox.record), 'the handler ran mid-invoke and hung')
      t.same(codes(sandbox.record).sort(), ['reset', 'runtime-overran-share'])
      await sandbox.shutdown({ reason: 'spindown' })
    })
  }
})
