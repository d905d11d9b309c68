// Runtime API 2018-06-01 over real HTTP: every endpoint's success and error paths (LAMBDA-SPEC §1).
import t from 'tap'
import { bootDriven, rawRequest, type Driver } from './driver.js'

const NEXT = '/2018-06-01/runtime/invocation/next'
const OK_BODY = '{"status":"OK"}\n'

/** Boots with the test as the runtime and returns the first /next, still pending. */
async function asRuntime(t: Parameters<typeof bootDriven>[0], options = {}) {
  let first!: ReturnType<Driver['pending']>
  const { sandbox, driver } = await bootDriven(t, options, async (d) => {
    first = d.pending('GET', NEXT)
  })
  return { sandbox, driver, first }
}

t.test('next: the event and every header', async (t) => {
  const { sandbox, driver, first } = await asRuntime(t, { functionName: 'fn-one', timeoutSec: 5 })
  const before = Date.now()
  const invoking = sandbox.invoke({ hello: 'wörld' }, { clientContext: '{"custom":{"a":1}}', tenantId: 'tenant-7' })
  const reply = await first
  t.equal(reply.status, 200)
  t.same(reply.json, { hello: 'wörld' })
  const id = reply.headers['lambda-runtime-aws-request-id'] as string
  t.match(id, /^[0-9a-f-]{36}$/)
  const deadline = Number(reply.headers['lambda-runtime-deadline-ms'])
  t.ok(deadline >= before + 4900 && deadline <= Date.now() + 5000, 'deadline is epoch ms, now + timeout')
  t.equal(reply.headers['lambda-runtime-invoked-function-arn'], 'arn:aws:lambda:us-east-1:123456789012:function:fn-one')
  t.match(reply.headers['lambda-runtime-trace-id'], /^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$/)
  t.equal(reply.headers['lambda-runtime-client-context'], '{"custom":{"a":1}}')
  t.equal(reply.headers['lambda-runtime-aws-tenant-id'], 'tenant-7')
  t.notOk('lambda-runtime-cognito-identity' in reply.headers, 'empty headers are left out')
  t.equal(reply.headers['content-type'], 'application/json')

  const posted = await driver.call('POST', `/2018-06-01/runtime/invocation/${id}/response`, { body: '"done"', headers: { 'content-type': 'application/json' } })
  t.equal(posted.status, 202)
  t.equal(posted.text, OK_BODY, 'the object {"status":"OK"} with Go\'s trailing newline')
  t.equal(posted.headers['content-type'], 'application/json')

  const again = await driver.call('POST', `/2018-06-01/runtime/invocation/${id}/response`, { body: '"twice"' })
  t.equal(again.status, 403)
  t.same(again.json, {
    errorMessage: 'State transition from RuntimeResponseSentState to InvocationResponse failed for runtime. Error: State transition is not allowed',
    errorType: 'InvalidStateTransition',
  })
  const badMode = await driver.call('POST', `/2018-06-01/runtime/invocation/${id}/response`, {
    body: '1',
    headers: { 'lambda-runtime-function-response-mode': 'buffered' },
  })
  t.same(badMode.json, { errorMessage: 'Invalid function response mode', errorType: 'InvalidFunctionResponseMode' }, 'a bad mode with the right id')
  t.equal(badMode.status, 400)
  const stale = await driver.call('POST', '/2018-06-01/runtime/invocation/not-the-id/response', { body: '1' })
  t.equal(stale.status, 400)
  t.same(stale.json, { errorMessage: 'Invalid request ID', errorType: 'InvalidRequestID' })

  // The invoke completes only when the runtime calls /next again.
  driver.pending('GET', NEXT)
  const result = await invoking
  t.equal(result.status, 'success')
  t.equal(result.response, '"done"')
  t.equal(result.requestId, id)
})

t.test('error: body passed through, type cleaned for the platform', async (t) => {
  const { sandbox, driver, first } = await asRuntime(t)
  const cases: [string | undefined, string][] = [
    [undefined, 'Runtime.Unknown'],
    ['Function.MyFailure', 'Function.MyFailure'],
    ['Function.bad', 'Function.Unknown'],
    ['KeyError', 'Runtime.Unknown'],
  ]
  let pendingNext = first
  for (const [header, cleaned] of cases) {
    const invoking = sandbox.invoke({})
    const reply = await pendingNext
    const id = reply.headers['lambda-runtime-aws-request-id'] as string
    const body = '{"errorMessage":"boom","errorType":"KeyError","stackTrace":[]}'
    const posted = await driver.call('POST', `/2018-06-01/runtime/invocation/${id}/error`, {
      body,
      headers: header === undefined ? {} : { 'lambda-runtime-function-error-type': header },
    })
    t.equal(posted.text, OK_BODY)
    const second = await driver.call('POST', `/2018-06-01/runtime/invocation/${id}/error`, { body })
    t.equal(second.status, 403, 'a second answer is refused')
    pendingNext = driver.pending('GET', NEXT)
    const result = await invoking
    t.equal(result.status, 'error')
    t.equal(result.errorType, cleaned, `header ${header ?? '(none)'}`)
    t.equal(result.response, body, 'the caller gets the body as posted')
    t.equal(result.functionError, 'Unhandled')
  }
})

t.test('413 over 6291556 bytes; the caller gets Function.ResponseSizeTooLarge', async (t) => {
  const { sandbox, driver, first } = await asRuntime(t)
  const invoking = sandbox.invoke({})
  const id = (await first).headers['lambda-runtime-aws-request-id'] as string
  const exact = await driver.call('POST', `/2018-06-01/runtime/invocation/${id}/response`, { body: Buffer.alloc(6291557, 97) })
  t.equal(exact.status, 413)
  t.same(exact.json, { errorMessage: 'Exceeded maximum allowed payload size (6291556 bytes).', errorType: 'RequestEntityTooLarge' })
  driver.pending('GET', NEXT)
  const result = await invoking
  t.equal(result.status, 'error')
  t.equal(result.errorType, 'Function.ResponseSizeTooLarge')
  t.same(JSON.parse(result.response), {
    errorMessage: 'Response payload size (6291557 bytes) exceeded maximum allowed payload size (6291556 bytes).',
    errorType: 'Function.ResponseSizeTooLarge',
  })
})

t.test('a response of exactly 6291556 bytes is accepted', async (t) => {
  const { sandbox, driver, first } = await asRuntime(t)
  const invoking = sandbox.invoke({})
  const id = (await first).headers['lambda-runtime-aws-request-id'] as string
  const posted = await driver.call('POST', `/2018-06-01/runtime/invocation/${id}/response`, { body: Buffer.alloc(6291556, 97) })
  t.equal(posted.status, 202)
  driver.pending('GET', NEXT)
  const result = await invoking
  t.equal(result.status, 'success')
  t.equal(result.response.length, 6291556)
})

t.test('init/error after the first next is refused; unknown paths and methods', async (t) => {
  const { driver } = await asRuntime(t)
  const late = await driver.call('POST', '/2018-06-01/runtime/init/error', { body: '{}' })
  t.equal(late.status, 403)
  t.same(late.json, {
    errorMessage: 'State transition from Ready to InitError failed for runtime. Error: State transition is not allowed',
    errorType: 'InvalidStateTransition',
  })
  const second = await driver.call('GET', NEXT)
  t.equal(second.status, 403, 'a second concurrent /next is refused')
  const unknown = await driver.call('GET', '/2018-06-01/runtime/nope')
  t.equal(unknown.status, 404)
  t.equal(unknown.text, '404 page not found\n')
  const wrongMethod = await driver.call('POST', NEXT, { body: '' })
  t.equal(wrongMethod.status, 405)
  const elsewhere = await driver.call('GET', '/2099-01-01/whatever')
  t.equal(elsewhere.status, 404)
  // RAPID's request-id middleware runs before the handler looks at the response mode.
  const badMode = await driver.call('POST', '/2018-06-01/runtime/invocation/x/response', {
    body: '1',
    headers: { 'lambda-runtime-function-response-mode': 'buffered' },
  })
  t.equal(badMode.status, 400)
  t.same(badMode.json, { errorMessage: 'Invalid request ID', errorType: 'InvalidRequestID' })
})

t.test('init/error before the first next fails Init and is served to the first invoke', async (t) => {
  const body = '{"errorMessage":"Unable to import module \'app\': No module named \'x\'","errorType":"Runtime.ImportModuleError","requestId":"","stackTrace":[]}'
  let posted!: Awaited<ReturnType<Driver['call']>>
  const { sandbox } = await bootDriven(t, { initTimeoutMs: 5000 }, async (d) => {
    posted = await d.call('POST', '/2018-06-01/runtime/init/error', { body, headers: { 'lambda-runtime-function-error-type': 'Runtime.ImportModuleError' } })
  })
  t.equal(posted.status, 202)
  t.equal(posted.text, OK_BODY)
  const record = sandbox.record
  t.equal(record.init?.status, 'error')
  t.equal(record.init?.errorType, 'Runtime.ImportModuleError')
  t.equal(record.resets.length, 1)
})

t.test('malformed requests never break the server', async (t) => {
  const { sandbox, driver, first } = await asRuntime(t)
  const net = await import('node:net')
  const [host, port] = driver.base.slice('http://'.length).split(':')
  await new Promise<void>((resolve) => {
    const socket = net.connect(Number(port), host, () => socket.end('NOT HTTP AT ALL\r\n\r\n'))
    socket.on('close', () => resolve())
    socket.on('error', () => resolve())
    socket.resume()
  })
  const bogus = await driver.call('POST', '/2018-06-01/runtime/invocation/%ZZ/error', { body: 'x' })
  t.equal(bogus.status, 400)
  // Still serving: a full invoke goes through.
  const invoking = sandbox.invoke({ still: 'alive' })
  const id = (await first).headers['lambda-runtime-aws-request-id'] as string
  await driver.call('POST', `/2018-06-01/runtime/invocation/${id}/response`, { body: '1' })
  driver.pending('GET', NEXT)
  t.equal((await invoking).status, 'success')
})

t.test('a 404 or 405 waits for the request body, and a body that stops coming is answered within ~2 s', async (t) => {
  const { driver } = await asRuntime(t)
  /** Sends the head and `first` bytes of a `length`-byte body, then `rest` (never, when undefined). */
  const send = (target: string, length: number, first: string, rest?: string) =>
    rawRequest(driver.base, `PATCH ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\n${first}`, rest)
  const whole = await send('/2020-08-15/logs', 6, 'abc', 'def')
  t.equal(whole.head, 'HTTP/1.1 405 Method Not Allowed', 'a body sent in two pieces gets its 405')
  const unknown = await send('/2018-06-01/nowhere', 6, 'abc', 'def')
  t.equal(unknown.head, 'HTTP/1.1 404 Not Found')
  const stalled = await send('/2020-08-15/logs', 100, 'abc')
  t.equal(stalled.head, 'HTTP/1.1 405 Method Not Allowed', 'a body that stops coming still gets its answer')
  t.ok(stalled.ms >= 1900 && stalled.ms < 10_000, `after ${stalled.ms.toFixed(0)} ms (the wait is 2000 ms)`)
})
