// Resets (LAMBDA-SPEC §3.3 "A failed invoke causes a reset", §3.1, §8 items 1, 5 and 11): each
// failure gives the caller Lambda's error, runs a Shutdown with the right lowercase reason (what a
// well-behaved extension sees), and the next invoke re-inits in a suppressed Init.
import { request } from 'node:http'
import { createServer } from 'node:net'
import t, { type Test } from 'tap'
import type { BootOptions, InvocationRecord, ProcessRecord, RunRecord, ShutdownRecord } from '../../harness/index.js'
import { extensionsDir, fn, startSandbox } from '../helpers.js'

async function boot(t: Test, functionName: string, extensions: readonly string[], options: Partial<BootOptions> = {}) {
  return startSandbox(t, { functionDir: fn(functionName), extensionsDir: extensionsDir(t, extensions), ...options })
}

function extensionOf(shutdown: ShutdownRecord, name: string): ProcessRecord {
  const record = shutdown.extensions.find((e) => e.name === name)
  if (record === undefined) {
    throw new Error(`no extension ${name} in ${shutdown.final ? 'the Shutdown' : 'the reset'}`)
  }
  return record
}

function outputOf(record: RunRecord, process: string): string[] {
  return record.timeline.filter((e) => e.kind === 'output' && e.process === process).map((e) => e.detail)
}

function codes(record: RunRecord): string[] {
  return record.verdict.problems.map((p) => p.code)
}

/** The platform's body for a failure, byte for byte (RAPID GetErrorResponseWithFormattedErrorMessage). */
function platformError(requestId: string, errorType: string, message: string): string {
  return JSON.stringify({ errorMessage: `RequestId: ${requestId} Error: ${message}`, errorType })
}

/** What the well-behaved extension saw in a reset: exactly one SHUTDOWN with this reason, and it exited 0. */
function assertSawShutdown(t: Test, record: RunRecord, reset: ShutdownRecord, reason: string): void {
  const ext = extensionOf(reset, 'well-behaved')
  t.same(
    ext.events.filter((e) => e.eventType === 'SHUTDOWN').map((e) => e.shutdownReason),
    [reason],
    `well-behaved received one SHUTDOWN (${reason})`,
  )
  t.ok(
    outputOf(record, 'well-behaved').includes(`well-behaved event SHUTDOWN ${reason}`),
    `and printed the reason it read off the wire: ${reason}`,
  )
  t.same(ext.exit, { code: 0, signal: null }, 'and exited 0')
  t.same(ext.signals, [], 'an extension is never SIGTERMed, and this one needed no SIGKILL')
}

/** The runtime of a reset was SIGTERMed (or was already gone) before any SHUTDOWN went out. */
function assertRuntimeFirst(t: Test, reset: ShutdownRecord): void {
  const firstShutdown = Math.min(
    ...reset.extensions.flatMap((e) => e.events.filter((ev) => ev.eventType === 'SHUTDOWN').map((ev) => ev.atMs)),
  )
  if (reset.runtime !== null && reset.runtime.exitedAtMs !== null) {
    t.ok(reset.runtime.exitedAtMs <= firstShutdown, 'the runtime was gone before SHUTDOWN went out')
  }
}

function onlyReset(t: Test, record: RunRecord): ShutdownRecord {
  t.equal(record.resets.length, 1, 'exactly one reset')
  const reset = record.resets[0]!
  t.equal(reset.final, false)
  return reset
}

t.test('function timeout: Sandbox.Timedout, reset with reason timeout, then a suppressed Init', async (t) => {
  const sandbox = await boot(t, 'sleeps', ['well-behaved'], { timeoutSec: 1 })
  const timedOut = await sandbox.invoke({ seconds: 5 })
  t.equal(timedOut.status, 'timeout')
  t.equal(timedOut.errorType, 'Sandbox.Timedout')
  t.equal(timedOut.functionError, 'Unhandled')
  t.equal(timedOut.response, `{"errorMessage":"RequestId: ${timedOut.requestId} Error: Task timed out after 1.00 seconds","errorType":"Sandbox.Timedout"}`)
  t.ok(timedOut.durationMs >= 950 && timedOut.durationMs <= 1600, `the invoke lasted ${timedOut.durationMs.toFixed(1)} ms (timeout 1 s)`)
  t.equal(timedOut.resetReason, 'timeout')

  const record = sandbox.record
  const reset = onlyReset(t, record)
  t.equal(reset.reason, 'timeout')
  t.ok(reset.startedAtMs >= timedOut.startedAtMs + timedOut.durationMs - 1, 'the reset follows the invoke')
  t.same(reset.runtime?.signals.map((s) => s.signal), ['SIGTERM'], 'the runtime got SIGTERM (an extension is registered)')
  t.same(reset.runtime?.exit, { code: null, signal: 'SIGTERM' }, 'with no handler it died of it')
  assertRuntimeFirst(t, reset)
  assertSawShutdown(t, record, reset, 'timeout')
  t.same(codes(record), ['reset'])
  t.match(record.verdict.problems[0]!.message, /reason timeout/)

  // The next invoke re-inits first. Whether Init and the invoke then fit in 1 s depends on the
  // machine (two Python starts), so success after a reset is asserted below, with a 3 s timeout.
  const next = await sandbox.invoke({ seconds: 0 })
  t.equal(next.init?.phase, 'invoke', 'the next invoke ran a suppressed Init')
  t.ok(
    sandbox.record.processes.some((p) => p.name === 'well-behaved' && p.generation === 1),
    'which started the extension afresh',
  )
})

t.test('runtime exits mid-invoke: Runtime.ExitError, extension sees failure; the invoke after succeeds', async (t) => {
  const sandbox = await boot(t, 'exits-when-asked', ['well-behaved'])
  const cases = [
    { code: 0, message: 'Runtime exited without providing a reason' },
    { code: 3, message: 'Runtime exited with error: exit status 3' },
  ]
  const invocations: InvocationRecord[] = []
  for (const { code, message } of cases) {
    const invocation = await sandbox.invoke({ exit: code })
    invocations.push(invocation)
    t.equal(invocation.status, 'error', `exit ${code}: status error`)
    t.equal(invocation.errorType, 'Runtime.ExitError')
    t.equal(invocation.functionError, 'Unhandled')
    t.equal(invocation.response, platformError(invocation.requestId, 'Runtime.ExitError', message), `exit ${code}: ${message}`)
    t.equal(invocation.resetReason, 'failure')
  }
  t.equal(invocations[0]!.init, undefined, 'the first invoke ran on the cold Init')
  t.match(invocations[1]!.init, { phase: 'invoke', status: 'success' }, 'the second ran a suppressed Init first')

  let record = sandbox.record
  t.equal(record.resets.length, 2)
  for (const [i, reset] of record.resets.entries()) {
    t.equal(reset.reason, 'failure')
    t.same(reset.runtime?.exit, { code: cases[i]!.code, signal: null }, `reset ${i}: the runtime had exited ${cases[i]!.code} by itself`)
    t.same(reset.runtime?.signals, [], `reset ${i}: no signal to a runtime that is already gone`)
    assertSawShutdown(t, record, reset, 'failure')
  }
  t.same(codes(record), ['reset', 'reset'])

  const next = await sandbox.invoke({})
  t.equal(next.status, 'success', 'after a reset the next invoke succeeds')
  t.equal(next.response, '"ok"')
  t.match(next.init, { phase: 'invoke', status: 'success' }, 'through a suppressed Init')
  t.equal(next.resetReason, undefined)
  record = sandbox.record
  t.equal(record.resets.length, 2, 'and causes no reset')
  t.same(
    record.processes.filter((p) => p.name === 'runtime').map((p) => p.generation),
    [0, 1, 2],
    'one runtime per generation',
  )
})

t.test('an extension crashing on INVOKE: Extension.Crash, the others see failure', async (t) => {
  const sandbox = await boot(t, 'echo', ['exits-on-invoke', 'well-behaved'])
  const invocation = await sandbox.invoke({ hello: 'world' })
  // Whether the runtime answered before the extension died is a race: the caller gets either
  // the function's response or the platform's error, but the invoke fails with Extension.Crash.
  t.equal(invocation.errorType, 'Extension.Crash')
  t.equal(invocation.status, 'error', 'an Extension.* fatal error is status error (failure is for Sandbox.*)')
  t.equal(invocation.resetReason, 'failure')
  if (invocation.functionError === 'Unhandled') {
    t.equal(invocation.response, platformError(invocation.requestId, 'Extension.Crash', 'exit status 0'))
  } else {
    t.same(JSON.parse(invocation.response), { hello: 'world' })
  }

  const record = sandbox.record
  const reset = onlyReset(t, record)
  t.equal(reset.reason, 'failure')
  const crashed = extensionOf(reset, 'exits-on-invoke')
  t.same(crashed.exit, { code: 0, signal: null }, 'exit code 0 outside Shutdown is still a crash')
  t.equal(crashed.state, 'Exited')
  t.ok(crashed.exitedAtMs! < reset.startedAtMs, 'it exited before the reset began')
  assertRuntimeFirst(t, reset)
  assertSawShutdown(t, record, reset, 'failure')
  t.same(codes(record), ['reset'])
  t.match(record.verdict.problems[0]!.message, /Extension\.Crash/)
})

t.test('an extension calling /exit/error: Extension.ExitError, reason failure', async (t) => {
  const sandbox = await boot(t, 'echo', ['exit-error', 'well-behaved'])
  const invocation = await sandbox.invoke({})
  t.equal(invocation.errorType, 'Extension.ExitError')
  t.equal(invocation.status, 'error')
  t.equal(invocation.resetReason, 'failure')
  if (invocation.functionError === 'Unhandled') {
    t.equal(invocation.response, platformError(invocation.requestId, 'Extension.ExitError', 'Extension.Broken'))
  }
  const record = sandbox.record
  const reset = onlyReset(t, record)
  t.equal(reset.reason, 'failure')
  t.equal(extensionOf(reset, 'exit-error').reportedError, 'Extension.ExitError (Extension.Broken)')
  assertSawShutdown(t, record, reset, 'failure')
  t.same(codes(record).sort(), ['extension-reported-error', 'reset'])
})

t.test('an extension calling /init/error: Init fails with Extension.InitError, and again in the suppressed Init', async (t) => {
  // init/error ends Init at once, so a second extension would be killed mid-registration or not,
  // as a race decides (see 'a function that fails Init' for what a registered extension sees).
  const sandbox = await boot(t, 'echo', ['init-error'])
  let record = sandbox.record
  t.match(record.init, { status: 'error', phase: 'init', errorType: 'Extension.InitError' })
  const reset = onlyReset(t, record)
  t.equal(reset.reason, 'failure')
  const ext = extensionOf(reset, 'init-error')
  t.equal(ext.reportedError, 'Extension.InitError (Extension.ConfigInvalid)')
  t.same(ext.exit, { code: 0, signal: null }, 'it exited by itself after reporting')
  t.same(ext.events, [], 'it never asked for another event, so no SHUTDOWN reached it')
  t.same(codes(record).sort(), ['extension-reported-error', 'init-failed', 'reset'])

  const invocation = await sandbox.invoke({})
  t.match(invocation.init, { phase: 'invoke', status: 'error', errorType: 'Extension.InitError' }, 'the first invoke re-ran Init')
  t.equal(invocation.status, 'error')
  t.equal(invocation.errorType, 'Extension.InitError')
  t.equal(invocation.functionError, 'Unhandled')
  record = sandbox.record
  t.same(record.resets.map((r) => r.reason), ['failure', 'failure'])
})

t.test('wrong-name: its SHUTDOWN subscription is refused as an internal extension’s, it exits 3, Init fails', async (t) => {
  // The limit only bounds the test if the harness wrongly waited; the failure comes at the exit.
  const sandbox = await boot(t, 'echo', ['wrong-name'], { initTimeoutMs: 3000 })
  const record = sandbox.record
  t.ok(
    record.timeline.some(
      (e) => e.kind === 'api' && e.process === 'wrong-name-typo' && e.detail === 'POST /2020-01-01/extension/register → 403 Extension.InvalidEventType',
    ),
    'registering as wrong-name-typo for SHUTDOWN got 403 Extension.InvalidEventType',
  )
  t.ok(outputOf(record, 'wrong-name').some((line) => line.startsWith('wrong-name register failed 403')))
  t.match(record.init, { status: 'error', phase: 'init', errorType: 'Extension.Crash' })
  t.ok(record.init!.durationMs < 3000, `it failed at its exit (${record.init!.durationMs.toFixed(0)} ms), not at the Init deadline`)
  const reset = onlyReset(t, record)
  t.equal(reset.reason, 'failure')
  t.equal(reset.runtime, null, 'the runtime was never started: the external never registered')
  t.same(extensionOf(reset, 'wrong-name').exit, { code: 3, signal: null })
  t.same(codes(record), ['init-failed', 'reset'])
})

t.test('a misspelt name for INVOKE only: an internal extension, the external never registers, Init times out', async (t) => {
  // 3 s, not 1.5: the extension must register (as internal) before the limit, and a loaded machine
  // can take over a second to start it.
  const sandbox = await boot(t, 'echo', ['typo-invoke-only'], { initTimeoutMs: 3000, timeoutSec: 1 })
  let record = sandbox.record
  t.match(record.init, { status: 'timeout', phase: 'init', errorType: 'Sandbox.Timeout' })
  t.ok(record.init!.durationMs >= 2950 && record.init!.durationMs <= 3600, `Init timed out after ${record.init!.durationMs.toFixed(0)} ms (limit 3000)`)
  t.same(
    record.init!.extensions.map((e) => [e.name, e.external, e.events]),
    [['typo-invoke-only-typo', false, ['INVOKE']]],
    'the only registered extension is the internal one',
  )
  const reset = onlyReset(t, record)
  t.equal(reset.reason, 'timeout')
  t.equal(reset.runtime, null, 'the runtime was never started')
  t.equal(reset.runtimeShareMs, 500, 'an internal extension raises the runtime share to 500 ms')
  const ext = extensionOf(reset, 'typo-invoke-only')
  t.same(ext.signals.map((s) => [s.signal, s.why]), [['SIGKILL', 'not subscribed to SHUTDOWN']], 'the unregistered external is killed at once')
  t.same(codes(record), ['init-failed', 'reset'])

  // The suppressed Init runs under the function timeout (1 s) and times out again.
  const invocation = await sandbox.invoke({})
  t.match(invocation.init, { phase: 'invoke', status: 'timeout' })
  t.equal(invocation.status, 'timeout')
  const initMs = invocation.init!.durationMs
  t.ok(initMs >= 950 && initMs <= 1700, `the suppressed Init ran for the function timeout (${initMs.toFixed(0)} ms)`)
  record = sandbox.record
  t.same(record.resets.map((r) => r.reason), ['timeout', 'timeout'])
})

t.test('a reset keeps the earlier generation\'s port bound until the sandbox closes, so no other sandbox gets that address', async (t) => {
  // A bwrap sandbox's API is at its own 127.0.0.1:9001 (test/isolation/network.test.ts): only plain mode shares ports.
  for (const isolation of ['none'] as const) {
    const sandbox = await boot(t, 'exits-when-asked', [], { isolation })
    const first = sandbox.runtimeApi
    t.equal((await sandbox.invoke({ exit: 3 })).status, 'error', `${isolation}: the crash`)
    t.equal((await sandbox.invoke({})).status, 'success', `${isolation}: the invoke after the reset`)
    const second = sandbox.runtimeApi
    t.not(second, first, `${isolation}: the new generation listens afresh`)
    const port = Number(first.split(':')[1])
    // Plain mode's final sweep finds escaped processes by the address they inherited: another
    // sandbox handed this port meanwhile would have its processes taken for ours.
    t.equal(await tryListen(port), 'EADDRINUSE', `${isolation}: the first generation's port is still ours`)
    // It answers nothing: a connection to it is dropped at its first request.
    t.equal(await requestOn(port), 'dropped', `${isolation}: a request on it is dropped`)
    await sandbox.shutdown()
    await sandbox.dispose()
    t.equal(await tryListen(port), 'free', `${isolation}: the port is free once the sandbox is gone`)
  }
})

async function tryListen(port: number): Promise<string> {
  const server = createServer()
  return new Promise((resolve) => {
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve('free')))
  })
}

async function requestOn(port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/2018-06-01/runtime/invocation/next', agent: false }, (res) => {
      res.resume()
      resolve(`answered ${res.statusCode}`)
    })
    req.once('error', () => resolve('dropped'))
    req.end()
  })
}
