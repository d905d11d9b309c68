// Fixtures that get registration, Init or INVOKE wrong: `check` fails each on its own check, and
// what follows from it elsewhere (no SHUTDOWN after a crash) is a skip that names that check.
import t from 'tap'
import { byId, check, failsExactly, fixture, inParallel } from './suite.js'

const CASES: { name: string; fails: string[]; about: RegExp; id: string }[] = [
  { name: 'wrong-name', fails: ['registers/name'], id: 'registers/name', about: /registered as `wrong-name-typo` \(403 Extension\.InvalidEventType\), not as its file name `wrong-name`/ },
  { name: 'no-events', fails: ['registers/events'], id: 'registers/events', about: /subscribes to no events, yet calls \/event\/next, which then blocks for ever/ },
  { name: 'exits-on-invoke', fails: ['invoke/keeps-up'], id: 'invoke/keeps-up', about: /exited \(exit code 0\) .* after INVOKE 1, outside Shutdown/ },
  { name: 'stalls-after-invoke', fails: ['invoke/keeps-up'], id: 'invoke/keeps-up', about: /did not call \/event\/next again after INVOKE 1 within the 3000 ms function timeout/ },
  { name: 'init-error', fails: ['init/no-error-reported'], id: 'init/no-error-reported', about: /reported Extension\.InitError \(Extension\.ConfigInvalid\) during Init and then exited/ },
]

t.test('each fixture fails exactly its check', async (t) => {
  const reports = await inParallel(CASES.map((c) => () => check(t, fixture(c.name))))
  CASES.forEach((c, index) => {
    const report = reports[index]!
    failsExactly(t, report, c.fails)
    t.match(byId(report, c.id).summary, c.about, `${c.name}: the failure says what happened`)
  })
  const exits = reports[CASES.findIndex((c) => c.name === 'exits-on-invoke')]!
  t.match(
    byId(exits, 'shutdown-spindown/receives-shutdown'),
    { outcome: 'skip', summary: /^blocked: .*\(reported by invoke\/keeps-up\)$/ },
    'a crash on INVOKE also means no SHUTDOWN: reported once, as a skip elsewhere',
  )
  const noEvents = reports[CASES.findIndex((c) => c.name === 'no-events')]!
  t.match(byId(noEvents, 'shutdown-timeout/exits-before-deadline'), { outcome: 'skip', summary: /does not subscribe to SHUTDOWN/ })
})

t.test('post-invoke time is measured per invoke and reported against the function\'s', async (t) => {
  const report = await check(t, fixture('slow-post-invoke'), { only: ['invoke'], env: { EXT_POST_INVOKE_MS: '150' } })
  const keepsUp = byId(report, 'invoke/keeps-up')
  t.equal(keepsUp.outcome, 'pass', 'slow is not wrong: it keeps up within the function timeout')
  t.ok((keepsUp.data.busyMedianMs as number) >= 145, `it took its 150 ms per INVOKE (${String(keepsUp.data.busyMedianMs)} ms)`)
  // Lambda's PostRuntimeExtensionsDuration: from the runtime's next /next, so what the function took is not in it.
  t.ok((keepsUp.data.postInvokeMedianMs as number) > 0, `its post-invoke time shows (${String(keepsUp.data.postInvokeMedianMs)} ms)`)
  t.ok((keepsUp.data.postInvokeMedianMs as number) <= (keepsUp.data.busyMedianMs as number), 'and is the part after the runtime was done')
  t.match(keepsUp.happened, /^per invoke .*: 1: \d+ ms after, function [\d.]+ ms; 2: .*; 3: /)
})

t.test('an extension that calls the Runtime API fails invoke/runtime-api-only-as-proxy, unless AWS_LAMBDA_EXEC_WRAPPER makes it a proxy', async (t) => {
  const [plain, proxy] = await inParallel([
    () => check(t, fixture('calls-runtime-api'), { only: ['invoke'] }),
    // A wrapper that only execs its arguments: the function runs, and the extension is a configured proxy.
    () => check(t, fixture('calls-runtime-api'), { only: ['invoke'], env: { AWS_LAMBDA_EXEC_WRAPPER: '/usr/bin/env' } }),
  ])
  failsExactly(t, plain!, ['invoke/runtime-api-only-as-proxy'])
  t.match(byId(plain!, 'invoke/runtime-api-only-as-proxy').summary, /^it called the Runtime API 3 time\(s\) \(first: POST \/2018-06-01\/runtime\/invocation\/not-a-request\/response → 400 InvalidRequestID\) without AWS_LAMBDA_EXEC_WRAPPER$/)
  t.match(byId(proxy!, 'invoke/runtime-api-only-as-proxy'), { outcome: 'pass', summary: /as the proxy AWS_LAMBDA_EXEC_WRAPPER=\/usr\/bin\/env sets up/ })
  const reference = await check(t, fixture('well-behaved'), { only: ['invoke'] })
  t.match(byId(reference, 'invoke/runtime-api-only-as-proxy'), { outcome: 'pass', summary: 'it made no Runtime API call' })
})
