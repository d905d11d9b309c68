// Shutdown as RAPID rapid/shutdown.go runs it (LAMBDA-SPEC §3.3, §8 items 1–4): SIGTERM to the
// runtime only when an extension is registered, SHUTDOWN only after the runtime is gone, SIGKILL
// at the runtime's share and at the deadline, unsubscribed extensions killed at once, extensions
// never SIGTERMed, and nothing left behind. Every assertion reads the RunRecord.
import { readFileSync } from 'node:fs'
import { setTimeout } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { statFields } from '../../harness/supervisor/process-groups.js'
import type { BootOptions, ProcessRecord, RunRecord, ShutdownRecord } from '../../harness/index.js'
import { extensionsDir, fn, groupMembers, startSandbox } from '../helpers.js'

/** The runtime share where a graceful exit is the point, not the share (Python exits in ~15 ms idle). */
const GRACEFUL_SHARE_MS = 1500

/** Boots `functionName` with these fixture extensions, invokes once (so Init and Invoke are done) and shuts down. */
async function runToShutdown(t: Test, functionName: string, extensions: readonly string[], options: Partial<BootOptions> = {}) {
  const sandbox = await startSandbox(t, {
    functionDir: fn(functionName),
    ...(extensions.length > 0 ? { extensionsDir: extensionsDir(t, extensions) } : {}),
    ...options,
  })
  t.equal(sandbox.record.init?.status, 'success', 'Init succeeded')
  const invocation = await sandbox.invoke({})
  t.equal(invocation.status, 'success', 'the invoke before Shutdown succeeded')
  const returned = await sandbox.shutdown()
  const record = sandbox.record
  const shutdown = record.shutdown
  if (shutdown === null) {
    throw new Error('no Shutdown in the record')
  }
  t.same(returned, shutdown, 'shutdown() resolves with the record of the Shutdown')
  t.equal(shutdown.final, true)
  t.equal(shutdown.reason, 'spindown')
  assertNoSigtermToExtensions(t, record)
  return { record, shutdown, runtime: runtimeOf(shutdown), extension: (name: string) => extensionOf(shutdown, name) }
}

function runtimeOf(shutdown: ShutdownRecord): ProcessRecord {
  if (shutdown.runtime === null) {
    throw new Error('no runtime in the Shutdown record')
  }
  return shutdown.runtime
}

function extensionOf(shutdown: ShutdownRecord, name: string): ProcessRecord {
  const record = shutdown.extensions.find((e) => e.name === name)
  if (record === undefined) {
    throw new Error(`no extension ${name} in the Shutdown record`)
  }
  return record
}

/** The one signal of this kind a process got, failing loudly if there is not exactly one. */
function onlySignal(process: ProcessRecord, signal: NodeJS.Signals) {
  const sent = process.signals.filter((s) => s.signal === signal)
  if (sent.length !== 1) {
    throw new Error(`${process.name} got ${sent.length} ${signal} signals: ${JSON.stringify(process.signals)}`)
  }
  return sent[0]!
}

/** Lines a process printed (stdout and stderr), in order. */
function outputOf(record: RunRecord, process: string): string[] {
  return record.timeline.filter((e) => e.kind === 'output' && e.process === process).map((e) => e.detail)
}

function codes(record: RunRecord): string[] {
  return record.verdict.problems.map((p) => p.code)
}

/** LAMBDA-SPEC §3.3: SIGTERM goes to the runtime only; no extension is ever SIGTERMed. */
function assertNoSigtermToExtensions(t: Test, record: RunRecord): void {
  const toExtensions = record.timeline.filter((e) => e.kind === 'signal' && e.process !== 'runtime' && /SIGTERM/.test(e.detail))
  t.same(toExtensions, [], 'no extension was sent SIGTERM')
  for (const process of record.processes.filter((p) => p.kind === 'extension')) {
    t.notOk(
      process.signals.some((s) => s.signal === 'SIGTERM'),
      `${process.name} (generation ${process.generation}) has no SIGTERM in its signals`,
    )
  }
}

/** Index of the first timeline entry matching, or -1. */
function indexOf(record: RunRecord, kind: string, process: string, pattern: RegExp): number {
  return record.timeline.findIndex((e) => e.kind === kind && e.process === process && pattern.test(e.detail))
}

t.test('with an extension: SIGTERM to the runtime, its handler exits, then SHUTDOWN with the deadline', async (t) => {
  // A generous share, so a loaded machine cannot turn the graceful exit into a SIGKILL at 300 ms;
  // the default share is tested with a handler that hangs, below.
  const { record, shutdown, runtime, extension } = await runToShutdown(t, 'sigterm-handler', ['prints-events'], { runtimeShutdownMs: GRACEFUL_SHARE_MS })
  t.equal(shutdown.windowMs, 2000, 'an external extension gives a 2000 ms window')
  t.equal(shutdown.runtimeShareMs, GRACEFUL_SHARE_MS)

  const sigterm = onlySignal(runtime, 'SIGTERM')
  t.equal(sigterm.why, 'shutdown')
  t.ok(sigterm.atMs >= shutdown.startedAtMs, 'SIGTERM is sent after Shutdown starts')
  t.equal(runtime.sigtermHandler, true, 'the runtime had a SIGTERM handler installed')
  t.same(runtime.exit, { code: 0, signal: null }, 'the runtime exited 0 through its handler')
  t.equal(runtime.killed, false, 'the runtime was not killed')
  t.notOk(runtime.signals.some((s) => s.signal === 'SIGKILL'), 'no SIGKILL to the runtime')
  t.ok(outputOf(record, 'runtime').includes('SIGTERM received'), 'the handler ran (3.12 profile)')

  // Timeline order: SIGTERM → runtime exit → SHUTDOWN to the extension, strictly.
  const sigtermAt = indexOf(record, 'signal', 'runtime', /^SIGTERM/)
  const runtimeExitAt = indexOf(record, 'exit', 'runtime', /exit status 0/)
  const firstShutdownAt = record.timeline.findIndex((e) => e.kind === 'event' && /^SHUTDOWN/.test(e.detail))
  t.ok(sigtermAt >= 0 && runtimeExitAt >= 0 && firstShutdownAt >= 0, 'SIGTERM, the runtime exit and SHUTDOWN are all in the timeline')
  t.ok(sigtermAt < runtimeExitAt && runtimeExitAt < firstShutdownAt, 'SIGTERM, then the runtime exit, then SHUTDOWN')
  const ext = extension('prints-events')
  const shutdownEvent = ext.events.find((e) => e.eventType === 'SHUTDOWN')
  t.ok(shutdownEvent !== undefined, 'the extension received SHUTDOWN')
  t.ok(sigterm.atMs < shutdownEvent!.atMs, 'SIGTERM strictly before SHUTDOWN on the clock')
  t.ok(runtime.exitedAtMs! <= shutdownEvent!.atMs, 'SHUTDOWN only after the runtime exited')

  // deadlineMs = start + 2000 ms, as epoch ms, both in the record and on the wire.
  const startEpochMs = Date.parse(record.startedAt) + shutdown.startedAtMs
  t.ok(Math.abs(shutdown.deadlineEpochMs - (startEpochMs + 2000)) <= 1, `deadlineEpochMs is start + 2000 ms (off by ${shutdown.deadlineEpochMs - startEpochMs - 2000} ms)`)
  t.equal(shutdownEvent!.deadlineMs, shutdown.deadlineEpochMs)
  t.equal(shutdownEvent!.shutdownReason, 'spindown')
  const wire = outputOf(record, 'prints-events')
    .filter((line) => line.startsWith('prints-events raw '))
    .map((line) => JSON.parse(line.slice('prints-events raw '.length)) as Record<string, unknown>)
  const wireShutdown = wire.find((body) => body.eventType === 'SHUTDOWN')
  t.same(
    wireShutdown,
    { eventType: 'SHUTDOWN', shutdownReason: 'spindown', deadlineMs: shutdown.deadlineEpochMs },
    'the body on the wire: lowercase reason, deadline in epoch ms',
  )
  t.ok(Number.isInteger(wireShutdown?.deadlineMs), 'deadlineMs is an integer')

  t.same(ext.exit, { code: 0, signal: null })
  t.equal(ext.state, 'Exited')
  t.same(ext.signals, [], 'the extension got no signal at all')
  t.same(record.verdict, { clean: true, problems: [] })
})

t.test('without extensions: no SIGTERM, no SHUTDOWN, the runtime is SIGKILLed at once', async (t) => {
  const { record, shutdown, runtime } = await runToShutdown(t, 'sigterm-handler', [])
  t.equal(shutdown.windowMs, 0)
  t.equal(shutdown.runtimeShareMs, 0)
  t.same(shutdown.extensions, [])
  t.same(
    runtime.signals.map((s) => [s.signal, s.why]),
    [['SIGKILL', 'shutdown without extensions']],
    'SIGKILL is the only signal',
  )
  const kill = onlySignal(runtime, 'SIGKILL')
  // No share is waited; what delay there is comes from the harness noting what the runtime held
  // (a /proc scan, ~10 ms idle, over 100 ms on a loaded machine).
  t.ok(kill.atMs - shutdown.startedAtMs < 500, `SIGKILL ${(kill.atMs - shutdown.startedAtMs).toFixed(1)} ms after Shutdown started`)
  t.same(runtime.exit, { code: null, signal: 'SIGKILL' })
  t.equal(runtime.killed, true)
  t.same(
    record.timeline.filter((e) => /SIGTERM|SHUTDOWN/.test(e.detail) && e.kind !== 'output'),
    [],
    'no SIGTERM and no SHUTDOWN anywhere in the timeline',
  )
  t.notOk(outputOf(record, 'runtime').includes('SIGTERM received'), 'the handler never ran')
  t.same(record.verdict, { clean: true, problems: [] }, 'Lambda’s own behaviour is not a problem')
})

t.test('a runtime whose SIGTERM handler hangs is SIGKILLed at the end of its share', async (t) => {
  t.test('default share, 300 ms', async (t) => {
    const { record, shutdown, runtime, extension } = await runToShutdown(t, 'sigterm-handler-hangs', ['well-behaved'])
    t.equal(shutdown.runtimeShareMs, 300)
    const sigterm = onlySignal(runtime, 'SIGTERM')
    const kill = onlySignal(runtime, 'SIGKILL')
    const afterMs = kill.atMs - sigterm.atMs
    t.ok(afterMs >= 250 && afterMs <= 800, `SIGKILL ${afterMs.toFixed(1)} ms after SIGTERM (share 300 ms)`)
    t.match(kill.why, /^runtime share of 300 ms over/)
    t.ok(outputOf(record, 'runtime').includes('SIGTERM received, hanging'), 'the handler ran and hung')
    t.equal(runtime.sigtermHandler, true)
    t.same(runtime.exit, { code: null, signal: 'SIGKILL' })
    t.equal(runtime.killed, true)
    const shutdownEvent = extension('well-behaved').events.find((e) => e.eventType === 'SHUTDOWN')
    t.ok(shutdownEvent !== undefined && shutdownEvent.atMs >= runtime.exitedAtMs!, 'SHUTDOWN went out only after the runtime was gone')
    t.same(codes(record), ['runtime-overran-share'])
    t.match(record.verdict.problems[0], { process: 'runtime', message: /300 ms share/ })
  })

  t.test('runtimeShutdownMs: 600', async (t) => {
    const { record, shutdown, runtime } = await runToShutdown(t, 'sigterm-handler-hangs', ['well-behaved'], { runtimeShutdownMs: 600 })
    t.equal(shutdown.runtimeShareMs, 600)
    t.equal(shutdown.windowMs, 2000, 'the window does not change')
    const afterMs = onlySignal(runtime, 'SIGKILL').atMs - onlySignal(runtime, 'SIGTERM').atMs
    t.ok(afterMs >= 550 && afterMs <= 1100, `SIGKILL ${afterMs.toFixed(1)} ms after SIGTERM (share 600 ms)`)
    t.match(onlySignal(runtime, 'SIGKILL').why, /^runtime share of 600 ms over/)
    t.same(codes(record), ['runtime-overran-share'])
    t.match(record.verdict.problems[0], { message: /600 ms share/ })
  })

  t.test('a runtime that ignores SIGTERM (SIG_IGN) is killed at its share too, but has no handler to blame', async (t) => {
    const { record, runtime } = await runToShutdown(t, 'ignores-sigterm', ['well-behaved'])
    t.equal(runtime.sigtermHandler, false, 'SIG_IGN is not a handler')
    const afterMs = onlySignal(runtime, 'SIGKILL').atMs - onlySignal(runtime, 'SIGTERM').atMs
    t.ok(afterMs >= 250 && afterMs <= 800, `SIGKILL ${afterMs.toFixed(1)} ms after SIGTERM (share 300 ms)`)
    t.same(runtime.exit, { code: null, signal: 'SIGKILL' })
    t.same(record.verdict, { clean: true, problems: [] })
  })
})

t.test('an extension that ignores SHUTDOWN is SIGKILLed at the deadline', async (t) => {
  const { record, shutdown, runtime, extension } = await runToShutdown(t, 'echo', ['ignores-shutdown'])
  t.same(runtime.exit, { code: null, signal: 'SIGTERM' }, 'the runtime (no handler) ended on SIGTERM')
  const ext = extension('ignores-shutdown')
  t.ok(ext.events.some((e) => e.eventType === 'SHUTDOWN' && e.shutdownReason === 'spindown'), 'it received SHUTDOWN')
  t.ok(outputOf(record, 'ignores-shutdown').includes('ignores-shutdown ignoring SHUTDOWN'))
  const kill = onlySignal(ext, 'SIGKILL')
  const afterMs = kill.atMs - shutdown.startedAtMs
  t.ok(afterMs >= 1900 && afterMs <= 2600, `SIGKILL ${afterMs.toFixed(1)} ms after Shutdown started (deadline 2000 ms)`)
  t.match(kill.why, /^deadline/)
  t.same(ext.exit, { code: null, signal: 'SIGKILL' })
  t.equal(ext.killed, true)
  t.equal(ext.state, 'ShutdownFailed')
  t.same(codes(record), ['extension-killed-at-deadline'])
  t.match(record.verdict.problems[0], { process: 'ignores-shutdown', message: /received SHUTDOWN but did not exit before the 2000 ms deadline/ })
})

t.test('an extension not subscribed to SHUTDOWN is SIGKILLed at once, and that is no problem', async (t) => {
  const { record, runtime, extension } = await runToShutdown(t, 'echo', ['invoke-only'])
  t.equal(onlySignal(runtime, 'SIGTERM').why, 'shutdown', 'the runtime still gets SIGTERM: an extension is registered')
  t.same(runtime.exit, { code: null, signal: 'SIGTERM' })
  const ext = extension('invoke-only')
  t.same(ext.subscribed, ['INVOKE'])
  t.same(
    ext.events.map((e) => e.eventType),
    ['INVOKE'],
    'it received its INVOKE and no SHUTDOWN',
  )
  const kill = onlySignal(ext, 'SIGKILL')
  t.equal(kill.why, 'not subscribed to SHUTDOWN')
  const afterRuntimeMs = kill.atMs - runtime.exitedAtMs!
  // "At once": right after the runtime stage, nowhere near the 2000 ms deadline.
  t.ok(afterRuntimeMs >= 0 && afterRuntimeMs < 1000, `SIGKILL ${afterRuntimeMs.toFixed(1)} ms after the runtime exited`)
  t.same(ext.exit, { code: null, signal: 'SIGKILL' })
  t.same(
    record.timeline.filter((e) => e.kind === 'event' && /^SHUTDOWN/.test(e.detail)),
    [],
    'no SHUTDOWN event in the timeline',
  )
  t.same(record.verdict, { clean: true, problems: [] })
})

t.test('extensions never receive SIGTERM', async (t) => {
  const { record, runtime, extension } = await runToShutdown(t, 'echo', ['ignores-sigterm'])
  t.equal(onlySignal(runtime, 'SIGTERM').why, 'shutdown', 'the runtime got SIGTERM')
  const ext = extension('ignores-sigterm')
  t.same(ext.signals, [], 'the extension’s record has no signal at all')
  t.ok(outputOf(record, 'ignores-sigterm').includes('ignores-sigterm exiting after SHUTDOWN'), 'it left on SHUTDOWN')
  t.notOk(
    outputOf(record, 'ignores-sigterm').some((line) => line.includes('SIGTERM received')),
    'its SIGTERM handler never ran',
  )
  t.same(ext.exit, { code: 0, signal: null })
  t.equal(ext.state, 'Exited')
  t.same(record.verdict, { clean: true, problems: [] })
})

t.test('spawns-child leaves no process behind', async (t) => {
  const sandbox = await startSandbox(t, { functionDir: fn('echo'), extensionsDir: extensionsDir(t, ['spawns-child']) })
  t.equal((await sandbox.invoke({})).status, 'success')
  // The child's host pid: the one member of the extension's process group besides the leader. The
  // pid it printed is its pid as it sees it (inside the sandbox's PID namespace, if isolated):
  // the last field of NSpid links the two.
  const leader = sandbox.record.processes.find((p) => p.name === 'spawns-child')!.pid!
  const children = groupMembers(leader).filter((pid) => pid !== leader)
  t.equal(children.length, 1, 'the extension’s group holds one child besides the extension')
  const childPid = children[0]!
  const printed = outputOf(sandbox.record, 'spawns-child').find((l) => /^spawns-child child \d+$/.test(l))
  t.equal(printed?.split(' ').at(-1), namespacePid(childPid), `the child it printed is host pid ${childPid}`)

  await sandbox.shutdown()
  const record = sandbox.record
  const shutdown = record.shutdown!
  assertNoSigtermToExtensions(t, record)
  t.same(extensionOf(shutdown, 'spawns-child').exit, { code: 0, signal: null }, 'the extension itself exited 0 on SHUTDOWN')
  t.same(shutdown.orphans, [{ group: 'spawns-child', pids: [childPid] }], 'the child is recorded as an orphan of its group')
  t.same(codes(record), ['orphan-processes'])
  t.match(record.verdict.problems[0], { process: 'spawns-child', message: new RegExp(`pids ${childPid}\\b`) })
  t.ok(indexOf(record, 'signal', 'spawns-child', /^SIGKILL to 1 leftover process\(es\) of its group/) >= 0, 'the leftover was SIGKILLed')
  t.equal(await waitUntilDead(childPid, 2000), 'dead', `child ${childPid} is dead (gone, or a zombie waiting for init)`)
})

t.test('the profile decides whether a Python SIGTERM handler runs', async (t) => {
  t.test('python3.11: the handler never runs, the runtime is killed at its share, no problem', async (t) => {
    const { record, shutdown, runtime } = await runToShutdown(t, 'sigterm-handler', ['well-behaved'], { runtime: 'python3.11' })
    t.equal(record.runtime.profile, 'python3.11')
    t.equal(runtime.sigtermHandler, true, 'the handler was installed')
    t.notOk(outputOf(record, 'runtime').includes('SIGTERM received'), 'but it never ran')
    const afterMs = onlySignal(runtime, 'SIGKILL').atMs - onlySignal(runtime, 'SIGTERM').atMs
    t.ok(afterMs >= 250 && afterMs <= 800, `SIGKILL ${afterMs.toFixed(1)} ms after SIGTERM (share ${shutdown.runtimeShareMs} ms)`)
    t.match(onlySignal(runtime, 'SIGKILL').why, /^runtime share/)
    t.same(runtime.exit, { code: null, signal: 'SIGKILL' })
    t.same(record.verdict, { clean: true, problems: [] }, 'Lambda does the same on 3.11: reported, not blamed')
  })

  t.test('python3.12: the handler runs and the runtime exits 0', async (t) => {
    const { record, runtime } = await runToShutdown(t, 'sigterm-handler', ['well-behaved'], { runtime: 'python3.12', runtimeShutdownMs: GRACEFUL_SHARE_MS })
    t.ok(outputOf(record, 'runtime').includes('SIGTERM received'))
    t.same(runtime.exit, { code: 0, signal: null })
    t.same(runtime.signals.map((s) => s.signal), ['SIGTERM'])
    t.same(record.verdict, { clean: true, problems: [] })
  })
})

/** The pid as the process itself sees it: the last NSpid field (the host pid when not isolated). */
function namespacePid(pid: number): string | undefined {
  try {
    return /^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]?.trim().split(/\s+/).at(-1)
  } catch {
    return undefined
  }
}

/** Polls /proc until the pid is dead or `withinMs` passed; SIGKILL takes effect when the kernel next schedules it. */
async function waitUntilDead(pid: number, withinMs: number): Promise<'dead' | 'alive'> {
  const deadline = performance.now() + withinMs
  while (processState(pid) === 'alive' && performance.now() < deadline) {
    await setTimeout(5)
  }
  return processState(pid)
}

/** 'dead' when the pid is gone or a zombie (killed, waiting for its new parent to reap it). */
function processState(pid: number): 'dead' | 'alive' {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return 'dead'
  }
  const state = statFields(stat)[0]
  return state === 'Z' || state === 'X' ? 'dead' : 'alive'
}
