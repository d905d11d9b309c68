// Extensions API 2020-01-01 over real HTTP: the test plays an external extension named after its
// (idle) file, and the runtime (LAMBDA-SPEC §2).
import t from 'tap'
import { extensionsDir } from '../helpers.js'
import { bootDriven, rawRequest, type Reply } from './driver.js'

const EXT = '/2020-01-01/extension'
const NEXT = '/2018-06-01/runtime/invocation/next'

interface Played {
  id: string
  registered: Reply
  extNext: Promise<Reply>
  rtNext: Promise<Reply>
}

async function asExtension(t: Parameters<typeof bootDriven>[0], events: string[] = ['INVOKE', 'SHUTDOWN'], feature?: string) {
  const played = {} as Played
  const { sandbox, driver } = await bootDriven(t, { extensionsDir: extensionsDir(t, ['idle']), functionName: 'ext-fn' }, async (d) => {
    played.registered = await d.call('POST', `${EXT}/register`, {
      headers: { 'lambda-extension-name': 'idle', ...(feature === undefined ? {} : { 'lambda-extension-accept-feature': feature }) },
      body: JSON.stringify({ events }),
    })
    played.id = played.registered.headers['lambda-extension-identifier'] as string
    played.extNext = d.pending('GET', `${EXT}/event/next`, { 'lambda-extension-identifier': played.id })
    played.rtNext = d.pending('GET', NEXT)
  })
  return { sandbox, driver, ...played }
}

t.test('register: identifier, body, accountId on request', async (t) => {
  const { registered, id } = await asExtension(t, ['INVOKE', 'SHUTDOWN'], 'accountId')
  t.equal(registered.status, 200)
  t.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
  t.equal(registered.text, '{"functionName":"ext-fn","functionVersion":"$LATEST","handler":"app.handler","accountId":"123456789012"}\n')
})

t.test('register without the feature leaves accountId out', async (t) => {
  const { registered } = await asExtension(t)
  t.same(registered.json, { functionName: 'ext-fn', functionVersion: '$LATEST', handler: 'app.handler' })
})

t.test('INVOKE: the event, and the invoke waits for the extension\'s next /event/next', async (t) => {
  const { sandbox, driver, id, extNext, rtNext } = await asExtension(t)
  let finished = false
  const invoking = sandbox.invoke({ x: 1 }).then((result) => {
    finished = true
    return result
  })
  const event = await extNext
  t.equal(event.status, 200)
  t.match(event.headers['lambda-extension-event-identifier'], /^[0-9a-f-]{36}$/)
  const body = event.json as Record<string, unknown>
  t.equal(body.eventType, 'INVOKE')
  t.type(body.deadlineMs, 'number', 'deadlineMs is a JSON number')
  t.equal(body.invokedFunctionArn, 'arn:aws:lambda:us-east-1:123456789012:function:ext-fn')
  t.match(body.tracing, { type: 'X-Amzn-Trace-Id', value: /^Root=1-/ })
  const runtimeEvent = await rtNext
  t.equal(runtimeEvent.headers['lambda-runtime-aws-request-id'], body.requestId, 'the same request id')
  t.equal(Number(runtimeEvent.headers['lambda-runtime-deadline-ms']), body.deadlineMs, 'the same deadline')
  await driver.call('POST', `/2018-06-01/runtime/invocation/${body.requestId as string}/response`, { body: '"r"' })
  driver.pending('GET', NEXT)
  // A full round trip through the server after the runtime's /next: the invoke must still wait.
  await driver.call('GET', '/2020-01-01/nothing-here')
  t.equal(finished, false, 'not complete while the extension has not called next')
  driver.pending('GET', `${EXT}/event/next`, { 'lambda-extension-identifier': id })
  const result = await invoking
  t.equal(result.status, 'success')
})

t.test('identifier errors, each a 403 with its errorType', async (t) => {
  const { driver } = await asExtension(t)
  const missing = await driver.call('GET', `${EXT}/event/next`)
  t.same(missing.json, { errorMessage: 'Missing Lambda-Extension-Identifier header', errorType: 'Extension.MissingExtensionIdentifier' })
  t.equal(missing.status, 403)
  const invalid = await driver.call('GET', `${EXT}/event/next`, { headers: { 'lambda-extension-identifier': 'xyz' } })
  t.same(invalid.json, { errorMessage: 'Invalid Lambda-Extension-Identifier', errorType: 'Extension.InvalidExtensionIdentifier' })
  const unknownId = '00000000-0000-4000-8000-000000000000'
  const unknown = await driver.call('GET', `${EXT}/event/next`, { headers: { 'lambda-extension-identifier': unknownId } })
  t.same(unknown.json, { errorMessage: `Unknown extension ${unknownId}`, errorType: 'Extension.UnknownExtensionIdentifier' })
  const unknownOnError = await driver.call('POST', `${EXT}/init/error`, {
    headers: { 'lambda-extension-identifier': unknownId, 'lambda-extension-function-error-type': 'Extension.X' },
  })
  t.same(unknownOnError.json, { errorMessage: 'Unknown Lambda-Extension-Identifier', errorType: 'Extension.UnknownExtensionIdentifier' })
})

t.test('state errors: register twice, late internal, init/error after next, missing header', async (t) => {
  const { driver, id } = await asExtension(t)
  const twice = await driver.call('POST', `${EXT}/register`, { headers: { 'lambda-extension-name': 'idle' }, body: '{"events":[]}' })
  t.equal(twice.status, 403)
  t.same(twice.json, {
    errorMessage: 'State transition from Ready to Registered failed for extension idle. Error: State transition is not allowed',
    errorType: 'Extension.InvalidExtensionState',
  })
  const late = await driver.call('POST', `${EXT}/register`, { headers: { 'lambda-extension-name': 'late-internal' }, body: '{"events":["INVOKE"]}' })
  t.same(late.json, { errorMessage: 'Extension registration closed already', errorType: 'Extension.RegistrationClosed' })
  const noHeader = await driver.call('POST', `${EXT}/init/error`, { headers: { 'lambda-extension-identifier': id } })
  t.same(noHeader.json, { errorMessage: 'Lambda-Extension-Function-Error-Type not found', errorType: 'Extension.MissingHeader' })
  const tooLate = await driver.call('POST', `${EXT}/init/error`, {
    headers: { 'lambda-extension-identifier': id, 'lambda-extension-function-error-type': 'Extension.Late' },
  })
  t.same(tooLate.json, {
    errorMessage: 'State transition from Ready to InitError failed for extension idle. Error: State transition is not allowed',
    errorType: 'Extension.InvalidExtensionState',
  })
  const badJson = await driver.call('POST', `${EXT}/register`, { headers: { 'lambda-extension-name': 'x' }, body: '{not json' })
  t.match(badJson.json, { errorType: 'InvalidRequestFormat' })
  const emptyBody = await driver.call('POST', `${EXT}/register`, { headers: { 'lambda-extension-name': 'x' } })
  t.match(emptyBody.json, { errorType: 'InvalidRequestFormat' }, 'an empty body fails')
  const noName = await driver.call('POST', `${EXT}/register`, { body: '{}' })
  t.same(noName.json, { errorMessage: 'Empty extension name', errorType: 'Extension.InvalidExtensionName' })
  t.equal((await driver.call('GET', `${EXT}/register`)).status, 405)
  t.equal((await driver.call('GET', `${EXT}/nope`)).status, 404)
})

t.test('exit/error is accepted once and then every call is refused; the next invoke fails', async (t) => {
  const { sandbox, driver, id } = await asExtension(t)
  const headers = { 'lambda-extension-identifier': id, 'lambda-extension-function-error-type': 'Extension.Broken' }
  const reported = await driver.call('POST', `${EXT}/exit/error`, { headers })
  t.equal(reported.status, 202)
  t.equal(reported.text, '{"status":"OK"}\n')
  const again = await driver.call('GET', `${EXT}/event/next`, { headers })
  t.equal(again.status, 403)
  t.match(again.json, { errorType: 'Extension.InvalidExtensionState' })
  const result = await sandbox.invoke({})
  t.equal(result.errorType, 'Extension.ExitError')
  t.equal(result.resetReason, 'failure')
  const codes = sandbox.record.verdict.problems.map((p) => p.code)
  t.ok(codes.includes('reset'), 'the reset is a problem')
  t.ok(codes.includes('extension-reported-error'), 'so is the reported error')
})

t.test('init/error takes effect on its headers, as RAPID does, even while its body is still coming; the answer follows the body (2 s at most)', async (t) => {
  let answered: Promise<{ head: string; ms: number }> | undefined
  const { sandbox } = await bootDriven(t, { extensionsDir: extensionsDir(t, ['idle']), initTimeoutMs: 5_000 }, async (d) => {
    const registered = await d.call('POST', `${EXT}/register`, { headers: { 'lambda-extension-name': 'idle' }, body: JSON.stringify({ events: ['SHUTDOWN'] }) })
    const id = registered.headers['lambda-extension-identifier'] as string
    // The head and 3 of 100 bytes: the rest never comes.
    answered = rawRequest(
      d.base,
      `POST ${EXT}/init/error HTTP/1.1\r\nHost: x\r\nLambda-Extension-Identifier: ${id}\r\nLambda-Extension-Function-Error-Type: Extension.Stalled\r\nContent-Length: 100\r\n\r\nabc`,
    )
    answered.catch(() => undefined)
  })
  // A deadline for the wait, not a sleep: a server that never answers fails here instead of hanging.
  let timer: NodeJS.Timeout | undefined
  const answer = await Promise.race([answered!, new Promise<{ head: string; ms: number }>((resolve) => (timer = setTimeout(() => resolve({ head: 'no answer', ms: Infinity }), 15_000)))])
  clearTimeout(timer)
  const record = sandbox.record
  t.match(record.init, { status: 'error', errorType: 'Extension.InitError' }, 'Init failed on the report')
  // The call's timeline entry is stamped with its arrival; the fatal error with when it was raised.
  const arrived = record.timeline.find((e) => e.kind === 'api' && e.detail.startsWith(`POST ${EXT}/init/error`))
  const raised = record.timeline.find((e) => e.kind === 'phase' && e.detail.startsWith('fatal: Extension.InitError'))
  t.ok(arrived !== undefined && raised !== undefined, 'the call and the fatal error are in the timeline')
  const afterMs = (raised?.atMs ?? Infinity) - (arrived?.atMs ?? 0)
  t.ok(afterMs < 1000, `the report took effect ${afterMs.toFixed(0)} ms after its head arrived, without its body`)
  t.equal(answer.head, 'HTTP/1.1 202 Accepted', 'the report was accepted')
  t.ok(answer.ms >= 1900 && answer.ms < 10_000, `answered after ${answer.ms.toFixed(0)} ms (the wait for a body is 2000 ms)`)
})
