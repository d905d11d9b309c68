// Our Python runtime client (harness/runtimes/python/lambda_harness_ric) against a live sandbox: the
// context object, Unicode per profile, every Runtime.* fault of LAMBDA-SPEC §7 as the caller and
// the platform see it, the 6 MB response limit, throughput, and the log line formats of §6.
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import type { InvocationRecord, RunRecord, Sandbox } from '../../harness/index.js'
import { PYTHON_BOOTSTRAP } from '../../harness/paths.js'
import { PYTHON, extensionsDir, fn, startSandbox } from '../helpers.js'

interface ErrorBody {
  errorMessage: string
  errorType: string
  requestId: string
  stackTrace: string[]
}

const ARN = 'arn:aws:lambda:us-east-1:123456789012:function:'
const TRACE_ID = /^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=[01]$/
const TEXT_TIMESTAMP = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z'
const JSON_TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/
const NBSP = '\u00a0'

function json<T = Record<string, unknown>>(invocation: InvocationRecord): T {
  return JSON.parse(invocation.response) as T
}

/** Lines a process printed (stderr lines carry a "[stderr] " prefix), in order. */
function outputOf(record: RunRecord, process: string): string[] {
  return record.timeline.filter((e) => e.kind === 'output' && e.process === process).map((e) => e.detail)
}

/**
 * Waits until `process` has printed a line matching `pattern`, with a deadline. The supervisor
 * reads pipes and HTTP in the same event loop, so a line written just before an API call can be
 * recorded just after it: wait for the line itself rather than assume the order.
 */
async function waitForLine(sandbox: Sandbox, process: string, wanted: RegExp | string, timeoutMs = 5000): Promise<string> {
  const matches = (line: string) => (typeof wanted === 'string' ? line === wanted : wanted.test(line))
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const line = outputOf(sandbox.record, process).find(matches)
    if (line !== undefined) {
      return line
    }
    if (Date.now() > deadline) {
      throw new Error(`${process} printed no line matching ${JSON.stringify(String(wanted))} within ${timeoutMs} ms`)
    }
    await sleep(10)
  }
}

/** The unhandled-error log line of the client's text format: one write, lines joined by "\r", NBSP indentation. */
function errorLogLine(body: Pick<ErrorBody, 'errorType' | 'errorMessage' | 'stackTrace'>): string {
  const frames = body.stackTrace.flatMap((frame) => frame.replace(/\n$/, '').split('\n'))
  const indented = frames.map((line) => line.replace(/^ +/, (spaces) => NBSP.repeat(spaces.length)))
  return [`[ERROR] ${body.errorType}: ${body.errorMessage}`, 'Traceback (most recent call last):', ...indented].join('\r')
}

/**
 * The path of a fixture's app.py as the runtime sees it: the host folder with plain processes, or
 * Lambda's /var/task inside the bwrap sandbox. Returns `seen` after checking it is one of them.
 */
function appFile(t: Test, fixture: string, seen: string | undefined): string {
  const allowed = [path.join(fn(fixture), 'app.py'), '/var/task/app.py']
  t.ok(seen !== undefined && allowed.includes(seen), `the frame names ${fixture}'s app.py (${seen})`)
  return seen ?? allowed[0]!
}

/** The file of the first `File "..."` frame in a stack trace. */
function frameFile(stackTrace: readonly string[]): string | undefined {
  return /File "([^"]+)"/.exec(stackTrace[0] ?? '')?.[1]
}

/** The runtime processes the sandbox started, in order (one per Init). */
function runtimes(record: RunRecord) {
  return record.processes.filter((p) => p.kind === 'runtime')
}

t.test('success: the context object, client context and identity, and the invoke environment', async (t) => {
  const sandbox = await startSandbox(t, {
    functionDir: fn('echo'),
    handler: 'app.context_info',
    functionName: 'ctx-fn',
    memoryMB: 256,
    timeoutSec: 5,
    extensionsDir: extensionsDir(t, ['prints-events']),
  })
  t.equal(sandbox.record.init?.status, 'success')

  const first = await sandbox.invoke({ a: 1 })
  t.equal(first.status, 'success')
  t.equal(first.contentType, 'application/json')
  t.equal(first.errorType, undefined)
  t.equal(first.functionError, undefined)
  const context = json(first)
  t.equal(context.aws_request_id, first.requestId, 'aws_request_id is the invoke’s request id')
  t.match(first.requestId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
  t.equal(context.function_name, 'ctx-fn')
  t.equal(context.memory_limit_in_mb, '256', 'memory_limit_in_mb is a string, read from the env')
  t.equal(context.function_version, '$LATEST')
  t.equal(context.invoked_function_arn, `${ARN}ctx-fn`)
  t.equal(context.log_group_name, '/aws/lambda/ctx-fn')
  t.match(context.log_stream_name, /^\d{4}\/\d\d\/\d\d\/\[\$LATEST\][0-9a-f]{32}$/)
  t.equal(context.event_type, 'dict', 'a JSON event is decoded')
  t.equal(context.client_context, null)
  t.same(context.identity, { cognito_identity_id: null, cognito_identity_pool_id: null })
  t.equal(context.tenant_id, null)
  const remaining = context.remaining_time_in_millis as number
  // The handler ran inside the invoke, so at most durationMs of the 5 s were gone (±2 ms rounding).
  t.ok(remaining <= 5000 && remaining >= 5000 - first.durationMs - 2, `remaining time ${remaining} ms is within the invoke's ${first.durationMs.toFixed(1)} ms of 5000`)
  t.match(context.trace_id, TRACE_ID)

  const second = await sandbox.invoke({})
  const secondContext = json(second)
  t.not(secondContext.aws_request_id, context.aws_request_id, 'each invoke has its own request id')
  t.not(secondContext.trace_id, context.trace_id, '_X_AMZN_TRACE_ID is updated for each invoke')

  // The trace id the platform sent (the extension's INVOKE event carries the same header value).
  for (const [invocation, ctx] of [
    [first, context],
    [second, secondContext],
  ] as const) {
    const line = await waitForLine(sandbox, 'prints-events', new RegExp(`^prints-events raw .*"requestId":"${invocation.requestId}"`))
    const event = JSON.parse(line.slice('prints-events raw '.length)) as { tracing?: { type: string; value: string } }
    t.same(event.tracing, { type: 'X-Amzn-Trace-Id', value: ctx.trace_id }, `_X_AMZN_TRACE_ID equals the trace header of ${invocation.requestId}`)
  }

  // Client context, Cognito identity and tenant id reach the context object.
  const clientContext = {
    custom: { k: 'v' },
    env: { platform: 'test' },
    client: { installation_id: 'inst-1', app_title: 'title', app_version_name: '1.0', app_version_code: '1', app_package_name: 'pkg' },
  }
  const third = await sandbox.invoke(
    {},
    {
      clientContext: JSON.stringify(clientContext),
      cognitoIdentity: JSON.stringify({ cognitoIdentityId: 'id-1', cognitoIdentityPoolId: 'pool-1' }),
      tenantId: 'tenant-7',
    },
  )
  t.equal(third.status, 'success')
  t.match(json(third), {
    client_context: clientContext,
    identity: { cognito_identity_id: 'id-1', cognito_identity_pool_id: 'pool-1' },
    tenant_id: 'tenant-7',
  })
  t.same(json(third).client_context, clientContext)
})

t.test('a non-JSON content type hands the handler raw bytes; bytes go back as application/unknown', async (t) => {
  const sandbox = await startSandbox(t, { functionDir: fn('echo') })
  const invocation = await sandbox.invoke(undefined, { payload: 'plain text, not JSON', contentType: 'text/plain' })
  t.equal(invocation.status, 'success')
  t.equal(invocation.response, 'plain text, not JSON')
  t.equal(invocation.contentType, 'application/unknown')
})

t.test('Unicode by profile: escaped up to python3.11, raw from python3.12', async (t) => {
  const cases = [
    { runtime: 'python3.11', body: '"\\u3053\\u3093\\u306b\\u3061\\u306f"', bytes: 32, message: '"errorMessage": "\\u3053\\u3093\\u306b\\u3061\\u306f"' },
    { runtime: 'python3.12', body: '"こんにちは"', bytes: 17, message: '"errorMessage": "こんにちは"' },
  ]
  for (const c of cases) {
    const sandbox = await startSandbox(t, { functionDir: fn('unicode'), runtime: c.runtime })
    const invocation = await sandbox.invoke({})
    t.equal(invocation.status, 'success', c.runtime)
    t.equal(invocation.response, c.body, `${c.runtime} response text`)
    t.equal(Buffer.byteLength(invocation.response), c.bytes, `${c.runtime} response is ${c.bytes} bytes`)
    t.equal(JSON.parse(invocation.response), 'こんにちは', `${c.runtime} decodes to the same string`)

    // The same switch applies to the error body.
    const failing = await startSandbox(t, { functionDir: fn('raises-unicode'), runtime: c.runtime })
    const error = await failing.invoke({})
    t.equal(error.status, 'error')
    t.ok(error.response.startsWith(`{${c.message}, "errorType": "ValueError"`), `${c.runtime} error body: ${error.response.slice(0, 80)}`)
    t.equal(json<ErrorBody>(error).errorMessage, 'こんにちは')
  }
})

t.test('init faults come through /init/error: Init fails, the first invoke returns the init error', async (t) => {
  const cases = [
    {
      name: 'Runtime.ImportModuleError',
      options: { functionDir: fn('import-error') },
      errorMessage: "Unable to import module 'app': No module named 'module_that_does_not_exist'",
      stackTrace: (_file: string): string[] => [],
    },
    {
      name: 'Runtime.UserCodeSyntaxError',
      options: { functionDir: fn('syntax-error') },
      // CPython's own wording of the SyntaxError (3.10+).
      errorMessage: "Syntax error in module 'app': expected ':' (app.py, line 4)",
      stackTrace: (file: string) => [`  File "${file}" Line 4\n    def handler(event, context)\n`],
    },
    {
      name: 'Runtime.HandlerNotFound',
      options: { functionDir: fn('no-handler') },
      errorMessage: "Handler 'handler' missing on module 'app'",
      stackTrace: (_file: string): string[] => [],
    },
    {
      name: 'Runtime.BuiltInModuleConflict',
      options: { functionDir: fn('echo'), handler: 'sys.handler' },
      errorMessage: 'Cannot use built-in module sys as a handler module',
      stackTrace: (_file: string): string[] => [],
    },
    {
      // The options refuse a handler without a dot, so hand the client one directly.
      name: 'Runtime.MalformedHandlerName',
      options: { functionDir: fn('echo'), runtimeCommand: [PYTHON, PYTHON_BOOTSTRAP, 'nodot'] },
      errorMessage: "Bad handler 'nodot': not enough values to unpack (expected 2, got 1)",
      stackTrace: (_file: string): string[] => [],
    },
  ]
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const sandbox = await startSandbox(t, c.options)
      const init = sandbox.record.init
      t.equal(init?.status, 'error', 'Init failed')
      t.equal(init?.phase, 'init')
      t.equal(init?.errorType, c.name, 'the platform keeps the type the client sent in Lambda-Runtime-Function-Error-Type')
      const [runtime] = runtimes(sandbox.record)
      // The client exits 1 right after /init/error's 202; the reset that follows may SIGKILL it first.
      t.ok(runtime?.exit !== null && runtime?.exit !== undefined, 'the runtime is gone after the init error')
      if (runtime?.killed === false) {
        t.same(runtime.exit, { code: 1, signal: null }, 'the client exited 1 by itself')
      }
      t.ok(
        sandbox.record.timeline.some((e) => e.kind === 'api' && e.process === 'runtime' && e.detail === 'POST /2018-06-01/runtime/init/error → 202'),
        'the client posted /init/error and got 202',
      )

      const invocation = await sandbox.invoke({})
      t.equal(invocation.status, 'error')
      t.equal(invocation.errorType, c.name)
      t.equal(invocation.functionError, 'Unhandled')
      t.equal(invocation.init?.phase, 'invoke', 'the first invoke ran a suppressed Init')
      t.equal(invocation.init?.status, 'error')
      const body = json<ErrorBody>(invocation)
      const stackTrace = c.stackTrace(body.stackTrace.length > 0 ? appFile(t, c.options.functionDir.split('/').at(-1)!, frameFile(body.stackTrace)) : '')
      t.same(body, { errorMessage: c.errorMessage, errorType: c.name, requestId: '', stackTrace }, 'the init error body, with "requestId": ""')
      t.ok(invocation.response.startsWith('{"errorMessage": '), 'awslambdaric key order and separators')

      t.ok(await waitForLine(sandbox, 'runtime', /^\[WARNING\]\t.*\t\tLAMBDA_WARNING: Unhandled exception\. /), 'the LAMBDA_WARNING line, with an empty request id')
      t.ok(await waitForLine(sandbox, 'runtime', errorLogLine({ errorType: c.name, errorMessage: c.errorMessage, stackTrace })), 'the error log line')
    })
  }
})

t.test('any other exception at import: its class name in the body, Runtime.Unknown for the platform', async (t) => {
  const sandbox = await startSandbox(t, { functionDir: fn('raises-on-import') })
  t.equal(sandbox.record.init?.status, 'error')
  t.equal(sandbox.record.init?.errorType, 'Runtime.Unknown', '"RuntimeError" fails RAPID’s (Runtime|Function).X check')
  const invocation = await sandbox.invoke({})
  t.equal(invocation.errorType, 'Runtime.Unknown')
  const body = json<ErrorBody>(invocation)
  t.equal(body.errorType, 'RuntimeError')
  t.equal(body.errorMessage, 'config missing')
  t.equal(body.requestId, '')
  // As awslambdaric: only the client's own leading frames are trimmed; importlib's stay.
  t.notOk(body.stackTrace.some((frame) => frame.includes('/bootstrap.py"')), 'no frame of the client itself')
  t.match(body.stackTrace[0], /^ {2}File ".*importlib\/__init__\.py", line \d+, in import_module\n/, 'the trace starts at importlib.import_module')
  t.match(body.stackTrace.at(-1), /^ {2}File "(.*raises-on-import|\/var\/task)\/app\.py", line 2, in <module>\n {4}raise RuntimeError\("config missing"\)\n$/, 'and ends in the module body')
  t.ok(await waitForLine(sandbox, 'runtime', errorLogLine(body)), 'the error log line')
})

t.test('a handler exception: the body the caller gets, Runtime.Unknown for the platform', async (t) => {
  const sandbox = await startSandbox(t, { functionDir: fn('raises') })
  const invocation = await sandbox.invoke({})
  t.equal(invocation.status, 'error')
  t.equal(invocation.functionError, 'Unhandled')
  t.equal(invocation.errorType, 'Runtime.Unknown', 'the client sends no Lambda-Runtime-Function-Error-Type on /error')
  t.equal(invocation.contentType, 'application/json')
  const file = appFile(t, 'raises', frameFile(json<ErrorBody>(invocation).stackTrace))
  const frame = `  File "${file}", line 5, in handler\n    raise KeyError("missing")\n`
  t.same(json(invocation), { errorMessage: "'missing'", errorType: 'KeyError', requestId: invocation.requestId, stackTrace: [frame] })
  t.equal(
    invocation.response,
    `{"errorMessage": "'missing'", "errorType": "KeyError", "requestId": "${invocation.requestId}", "stackTrace": [${JSON.stringify(frame)}]}`,
    'exact bytes: Python’s default separators, awslambdaric’s key order',
  )
  t.equal(sandbox.record.resets.length, 0, 'a function error is not a reset')

  // Text log: one line, "\r" between lines, NBSP for indentation.
  const expectedLine = `[ERROR] KeyError: 'missing'\rTraceback (most recent call last):\r${NBSP.repeat(2)}File "${file}", line 5, in handler\r${NBSP.repeat(4)}raise KeyError("missing")`
  t.equal(errorLogLine(json<ErrorBody>(invocation)), expectedLine)
  t.ok(await waitForLine(sandbox, 'runtime', expectedLine), 'the unhandled-exception log line')
})

t.test('invoke faults: the caller gets the fault type, the platform Runtime.Unknown, the runtime keeps serving', async (t) => {
  /** Checks one failed invoke and the successful (or, for returns-set, equally failing) one after it. */
  const check = async (sandbox: Sandbox, name: string, invoke: Parameters<Sandbox['invoke']>, errorMessage: string, recovers: boolean) => {
    const failed = await sandbox.invoke(...invoke)
    t.equal(failed.status, 'error', name)
    t.equal(failed.functionError, 'Unhandled')
    t.equal(failed.errorType, 'Runtime.Unknown')
    t.same(json(failed), { errorMessage, errorType: name, requestId: failed.requestId, stackTrace: [] }, `${name}: ${errorMessage}`)
    t.ok(await waitForLine(sandbox, 'runtime', errorLogLine({ errorType: name, errorMessage, stackTrace: [] })), `${name} is logged`)
    const next = await sandbox.invoke({ again: true })
    t.not(next.requestId, failed.requestId)
    if (recovers) {
      t.equal(next.status, 'success', `after ${name} the next invoke succeeds`)
      t.same(json(next), { again: true })
    } else {
      t.match(json(next), { errorType: name, requestId: next.requestId }, 'the runtime answered the next invoke, with its own request id')
    }
  }
  const unchanged = (sandbox: Sandbox) => {
    const record = sandbox.record
    t.equal(record.resets.length, 0, 'no reset')
    t.equal(runtimes(record).length, 1, 'one runtime process served every invoke')
    t.equal(runtimes(record)[0]?.exit, null, 'and it is still running')
  }

  const set = await startSandbox(t, { functionDir: fn('returns-set') })
  await check(set, 'Runtime.MarshalError', [{}], 'Unable to marshal response: Object of type set is not JSON serializable', false)
  unchanged(set)

  const echo = await startSandbox(t, { functionDir: fn('echo') })
  await check(
    echo,
    'Runtime.UnmarshalError',
    [undefined, { payload: '{not json' }],
    'Unable to unmarshal input: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)',
    true,
  )
  await check(echo, 'Runtime.LambdaContextUnmarshalError', [{}, { clientContext: 'nope' }], 'Unable to parse Client Context JSON: Expecting value: line 1 column 1 (char 0)', true)
  await check(
    echo,
    'Runtime.LambdaContextUnmarshalError',
    [{}, { cognitoIdentity: '{' }],
    'Unable to parse Cognito Identity JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)',
    true,
  )
  unchanged(echo)
})

t.test('the 6 MB response limit (6291556 bytes): over it the caller gets Function.ResponseSizeTooLarge and the client exits 1, as awslambdaric', async (t) => {
  const sandbox = await startSandbox(t, { functionDir: fn('big-response'), handler: 'app.raw' })
  const atLimit = await sandbox.invoke({ size: 6291556 })
  t.equal(atLimit.status, 'success')
  t.equal(atLimit.contentType, 'application/unknown', 'bytes are posted as application/unknown')
  t.equal(Buffer.byteLength(atLimit.response), 6291556)

  const over = await sandbox.invoke({ size: 6291557 })
  t.equal(over.status, 'error')
  t.equal(over.functionError, 'Unhandled')
  t.same(json(over), {
    errorMessage: 'Response payload size (6291557 bytes) exceeded maximum allowed payload size (6291556 bytes).',
    errorType: 'Function.ResponseSizeTooLarge',
  })
  t.ok(
    await waitForLine(sandbox, 'runtime', /^\[ERROR\] \[\d+\] LAMBDA_RUNTIME Failed to post handler success response\. Http response code: 413\. /),
    'the client logs the 413 as aws-lambda-cpp does (printf: stdout)',
  )
  // awslambdaric's C client fails the post and LambdaRuntimeClient.handle_exception re-raises.
  t.ok(await waitForLine(sandbox, 'runtime', '[stderr] RuntimeError: Failed to post invocation response'))
  t.same(runtimes(sandbox.record)[0]?.exit, { code: 1, signal: null })

  const after = await sandbox.invoke({ size: 3 })
  t.equal(after.status, 'success', 'the next invoke runs on a new runtime')
  t.equal(after.response, 'xxx')
  t.equal(runtimes(sandbox.record).length, 2)
})

t.test('the limit counts the JSON body: a string of 6291554 characters is 6291556 bytes with its quotes', async (t) => {
  const sandbox = await startSandbox(t, { functionDir: fn('big-response') })
  const atLimit = await sandbox.invoke({ size: 6291554 })
  t.equal(atLimit.status, 'success')
  t.equal(atLimit.response.length, 6291556)
  const over = await sandbox.invoke({ size: 6291555 })
  t.equal(json(over).errorType, 'Function.ResponseSizeTooLarge')
})

t.test('100 sequential invokes in one sandbox all succeed', async (t) => {
  const sandbox = await startSandbox(t, { functionDir: fn('echo') })
  const started = performance.now()
  const failures: InvocationRecord[] = []
  for (let i = 0; i < 100; i++) {
    const invocation = await sandbox.invoke({ i })
    if (invocation.status !== 'success' || invocation.response !== `{"i": ${i}}`) {
      failures.push(invocation)
    }
  }
  const totalMs = performance.now() - started
  t.comment(`100 sequential echo invokes: ${totalMs.toFixed(0)} ms in all, ${(totalMs / 100).toFixed(2)} ms each`)
  t.same(failures, [], 'every invoke succeeded with its own event')
  const record = sandbox.record
  t.equal(record.invocations.length, 100)
  t.equal(new Set(record.invocations.map((i) => i.requestId)).size, 100, '100 distinct request ids')
  t.equal(runtimes(record).length, 1, 'one runtime process served them all')
  t.equal(record.verdict.clean, true)
})

t.test('text log format: [LEVEL]\\t<ts>Z\\t<requestId>\\t<msg>, and the level from AWS_LAMBDA_LOG_LEVEL', async (t) => {
  const sandbox = await startSandbox(t, { functionDir: fn('logs'), env: { AWS_LAMBDA_LOG_LEVEL: 'INFO' } })
  const invocation = await sandbox.invoke({})
  t.equal(invocation.response, '"logged"')
  const id = invocation.requestId
  // stdout and stderr are separate pipes: wait for the last line of each.
  await waitForLine(sandbox, 'runtime', '    raise ValueError("boom")')
  await waitForLine(sandbox, 'runtime', '[stderr] print to stderr')
  const entries = sandbox.record.timeline.filter((e) => e.kind === 'output')
  t.ok(entries.length > 0 && entries.every((e) => e.process === 'runtime'), 'output lines are in the timeline, kind output, process runtime')
  const lines = outputOf(sandbox.record, 'runtime')
  t.equal(lines[0], 'init: print to stdout', 'print at import is captured')
  t.ok(lines.includes('print to stdout'))
  t.ok(lines.includes('[stderr] print to stderr'), 'stderr lines are marked')
  for (const [level, message] of [
    ['INFO', 'info message'],
    ['WARNING', 'warning message'],
    ['ERROR', 'error message'],
    ['CRITICAL', 'critical message'],
    ['WARNING', 'child logger message'],
    ['ERROR', 'caught an exception'],
  ]) {
    const pattern = new RegExp(`^\\[${level}\\]\\t${TEXT_TIMESTAMP}\\t${id}\\t${message}$`)
    t.ok(lines.some((l) => pattern.test(l)), `a ${level} line: ${message}`)
  }
  t.notOk(lines.some((l) => l.includes('debug message')), 'DEBUG is below INFO')
  // One exact line: the timestamp is UTC (the clock of this process, within the invoke).
  const info = lines.find((l) => l.startsWith('[INFO]'))!
  const stamp = Date.parse(info.split('\t')[1]!)
  const startedEpoch = Date.parse(sandbox.record.startedAt) + invocation.startedAtMs
  t.ok(stamp >= Math.floor(startedEpoch) - 2 && stamp <= startedEpoch + invocation.durationMs + 2, 'the timestamp is the UTC time of the invoke')
  t.equal(info, `[INFO]\t${new Date(stamp).toISOString()}\t${id}\tinfo message`)
})

t.test('text log format without AWS_LAMBDA_LOG_LEVEL: the root logger stays at WARNING', async (t) => {
  const sandbox = await startSandbox(t, { functionDir: fn('logs') })
  const { requestId } = await sandbox.invoke({})
  await waitForLine(sandbox, 'runtime', '    raise ValueError("boom")')
  const lines = outputOf(sandbox.record, 'runtime')
  t.notOk(lines.some((l) => l.includes('info message')), 'INFO is dropped')
  t.ok(lines.some((l) => new RegExp(`^\\[WARNING\\]\\t${TEXT_TIMESTAMP}\\t${requestId}\\twarning message$`).test(l)))
})

t.test('JSON log format (AWS_LAMBDA_LOG_FORMAT=JSON): one object per record', async (t) => {
  const sandbox = await startSandbox(t, { functionDir: fn('logs'), env: { AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: 'DEBUG' } })
  const { requestId } = await sandbox.invoke({})
  await waitForLine(sandbox, 'runtime', /"message": "caught an exception"/)
  const records = outputOf(sandbox.record, 'runtime')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
  t.same(
    records.map((r) => [r.level, r.message]),
    [
      ['DEBUG', 'debug message'],
      ['INFO', 'info message'],
      ['WARNING', 'warning message'],
      ['ERROR', 'error message'],
      ['CRITICAL', 'critical message'],
      ['WARNING', 'child logger message'],
      ['ERROR', 'caught an exception'],
    ],
    'every level from DEBUG, in order',
  )
  for (const record of records) {
    t.match(record.timestamp, JSON_TIMESTAMP, 'second precision, no milliseconds')
    t.equal(record.requestId, requestId)
  }
  t.same(records[1], { timestamp: records[1]!.timestamp, level: 'INFO', message: 'info message', logger: 'root', requestId }, 'no null keys')
  t.equal(records[5]!.logger, 'app.child')
  t.equal(records[5]!.orderId, 42, 'extra= fields are top-level keys')
  const exception = records[6]!
  t.equal(exception.errorType, 'ValueError')
  t.equal(exception.errorMessage, 'boom')
  t.match(exception.location, /(logs|\/var\/task)\/app\.py:handler:\d+$/)
  t.match(exception.stackTrace, [/File "(.*logs|\/var\/task)\/app\.py", line \d+, in handler\n/])
})

t.test('JSON log format: the unhandled-exception record uses level, as awslambdaric 4.x', async (t) => {
  const sandbox = await startSandbox(t, { functionDir: fn('raises'), env: { AWS_LAMBDA_LOG_FORMAT: 'json' } })
  const invocation = await sandbox.invoke({})
  const line = await waitForLine(sandbox, 'runtime', /"errorType"/)
  t.pass('the record of the unhandled exception (the format value is case-insensitive)')
  const record = JSON.parse(line) as Record<string, unknown>
  t.same(Object.keys(record), ['timestamp', 'level', 'errorMessage', 'errorType', 'requestId', 'stackTrace'])
  t.match(record, { level: 'ERROR', errorType: 'KeyError', errorMessage: "'missing'", requestId: invocation.requestId })
  t.match(record.timestamp, JSON_TIMESTAMP)
})
