// The environment Lambda gives the runtime and, reduced, the extensions (LAMBDA-SPEC §5): the
// customer's variables checked as Lambda's configuration API checks them, the runtime's variables
// as a live function sees them, and the extensions' as a live extension sees them.
import t, { type Test } from 'tap'
import { validateCustomerEnv } from '../../harness/config/environment.js'
import { HarnessError, type Sandbox } from '../../harness/index.js'
import { PYTHON_RUNTIME_DIR } from '../../harness/paths.js'
import { extensionsDir, fn, startSandbox } from '../helpers.js'
import { setTimeout as sleep } from 'node:timers/promises'

/** The keys RAPID treats as runtime-only (the docs' list); extensions also lose every `_` key. */
const RUNTIME_ONLY = [
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_XRAY_CONTEXT_MISSING',
  'AWS_XRAY_DAEMON_ADDRESS',
  'LAMBDA_RUNTIME_DIR',
  'LAMBDA_TASK_ROOT',
  '_AWS_XRAY_DAEMON_ADDRESS',
  '_AWS_XRAY_DAEMON_PORT',
  '_HANDLER',
]

/** Every variable the runtime may have: Lambda's, the customer's, and what Python adds itself. */
const RUNTIME_KEYS = new Set([
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_RUNTIME_API',
  'AWS_EXECUTION_ENV',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_XRAY_CONTEXT_MISSING',
  'AWS_XRAY_DAEMON_ADDRESS',
  '_AWS_XRAY_DAEMON_ADDRESS',
  '_AWS_XRAY_DAEMON_PORT',
  'AWS_LAMBDA_LOG_FORMAT',
  '_HANDLER',
  'LAMBDA_TASK_ROOT',
  'LAMBDA_RUNTIME_DIR',
  'TZ',
  'LANG',
  'PATH',
  'LD_LIBRARY_PATH',
  'PYTHONPATH',
  '_X_AMZN_TRACE_ID',
  'CUSTOMER_KEY',
  // CPython's C-locale coercion (PEP 538) and the harness's JIT switch on 3.13+ interpreters.
  'LC_CTYPE',
  'PYTHON_JIT',
])

/**
 * node-tap's processinfo plugin hooks child_process in the test process and adds its own
 * `_TAPJS_PROCESSINFO_*` variables and a NODE_OPTIONS that loads it to every process spawned,
 * the harness's children included. They are not the harness's doing (outside tap they are absent).
 */
function withoutTap(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter(
      ([key, value]) => !key.startsWith('_TAPJS_PROCESSINFO_') && !(key === 'NODE_OPTIONS' && value.includes('@tapjs/processinfo')),
    ),
  )
}

const HOST_SECRETS = {
  AWS_ACCESS_KEY_ID: 'AKIAHOSTKEYDONOTLEAK',
  AWS_SECRET_ACCESS_KEY: 'host-secret-do-not-leak',
  AWS_SESSION_TOKEN: 'host-token-do-not-leak',
  LH_HOST_ONLY: 'host-only-variable',
}

function refusal(env: unknown): HarnessError {
  try {
    validateCustomerEnv(env as Record<string, string>, [])
  } catch (error) {
    if (error instanceof HarnessError) {
      return error
    }
    throw error
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`)
}

/** Sets host variables for the duration of the test, as a developer's shell would have them. */
function withHostEnv(t: Test, vars: Record<string, string>): void {
  const saved = Object.fromEntries(Object.keys(vars).map((key) => [key, process.env[key]]))
  Object.assign(process.env, vars)
  t.teardown(() => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) {
        delete process.env[key]
      } else {
        process.env[key] = value
      }
    }
  })
}

/** Waits until `process` has printed a line starting with `prefix`, with a deadline. */
async function waitForLine(sandbox: Sandbox, process: string, prefix: string, timeoutMs = 5000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const entry = sandbox.record.timeline.find((e) => e.kind === 'output' && e.process === process && e.detail.startsWith(prefix))
    if (entry !== undefined) {
      return entry.detail
    }
    if (Date.now() > deadline) {
      throw new Error(`${process} printed no line starting with ${JSON.stringify(prefix)} within ${timeoutMs} ms`)
    }
    await sleep(10)
  }
}

t.test('reserved keys are refused; overridable ones are the customer’s', async (t) => {
  for (const key of [
    'AWS_REGION',
    'AWS_DEFAULT_REGION',
    'AWS_EXECUTION_ENV',
    'AWS_LAMBDA_FUNCTION_NAME',
    'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
    'AWS_LAMBDA_FUNCTION_VERSION',
    'AWS_LAMBDA_INITIALIZATION_TYPE',
    'AWS_LAMBDA_LOG_GROUP_NAME',
    'AWS_LAMBDA_LOG_STREAM_NAME',
    'AWS_ACCESS_KEY',
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_LAMBDA_RUNTIME_API',
    'LAMBDA_TASK_ROOT',
    'LAMBDA_RUNTIME_DIR',
  ]) {
    const error = refusal({ OK: '1', [key]: 'x' })
    t.equal(error.code, 'ERR_INVALID_OPTION', `${key} is refused`)
    t.equal(error.message, `option env: ${key} is reserved by Lambda and cannot be set`)
  }
  const overridable = {
    LANG: 'C.UTF-8',
    PATH: '/bin',
    LD_LIBRARY_PATH: '/lib',
    TZ: ':Europe/Paris',
    AWS_LAMBDA_LOG_FORMAT: 'JSON',
    AWS_LAMBDA_LOG_LEVEL: 'DEBUG',
    AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
    AWS_XRAY_DAEMON_ADDRESS: '127.0.0.1:2000',
  }
  const warnings: string[] = []
  t.same(validateCustomerEnv(overridable, warnings), overridable, 'RAPID’s overridable keys are accepted as given')
  t.same(warnings, [])
})

t.test('keys starting with "_" are dropped with a warning, not refused', async (t) => {
  const warnings: string[] = []
  const env = validateCustomerEnv({ KEEP: '1', _HANDLER: 'evil.handler', _PRIVATE: 'x' }, warnings)
  t.same(env, { KEEP: '1' })
  t.same(warnings, [
    'env _HANDLER dropped: Lambda drops customer variables whose names start with "_"',
    'env _PRIVATE dropped: Lambda drops customer variables whose names start with "_"',
  ])
})

t.test('names and values: letters, digits and "_" starting with a letter; string values', async (t) => {
  for (const key of ['1ABC', 'A-B', 'A B', 'É', '']) {
    const error = refusal({ [key]: 'x' })
    t.equal(error.code, 'ERR_INVALID_OPTION')
    t.equal(error.message, `option env: expected a name of letters, digits and "_" starting with a letter, got ${JSON.stringify(key)}`)
  }
  t.same(validateCustomerEnv({ a1_B: 'x' }, []), { a1_B: 'x' })
  t.equal(refusal({ COUNT: 3 }).message, 'option env: expected a string value for COUNT, got 3')
  t.equal(refusal('A=1').message, 'option env: expected an object of KEY: value strings, got "A=1"')
})

t.test('the 4 KB limit counts UTF-8 bytes of names and values', async (t) => {
  // 4096 bytes exactly: a 4-byte name and 4092 bytes of value (2-byte characters count twice).
  const atLimit = { BIG1: 'é'.repeat(2046) }
  t.same(validateCustomerEnv(atLimit, []), atLimit, '4096 bytes are allowed')
  const over = refusal({ BIG1: 'é'.repeat(2046), X: '' })
  t.equal(over.code, 'ERR_INVALID_OPTION')
  t.equal(over.message, 'option env: expected at most 4096 bytes of variables in all, got 4097')
  const dropped = validateCustomerEnv({ BIG1: 'é'.repeat(2046), _IGNORED: 'x'.repeat(100) }, [])
  t.same(Object.keys(dropped), ['BIG1'], 'dropped keys do not count')
})

/** The default mode (bwrap where it works) and plain processes: both must give Lambda's environment. */
for (const isolation of ['auto', 'none'] as const) {
  t.test(`the runtime’s environment, and the extensions’ reduced copy of it (isolation ${isolation})`, async (t) => {
    withHostEnv(t, HOST_SECRETS)
    const warnings: string[] = []
    const sandbox = await startSandbox(
      t,
      {
        isolation,
        functionDir: fn('returns-env'),
        functionName: 'env-fn',
        memoryMB: 512,
        region: 'eu-west-1',
        env: { CUSTOMER_KEY: 'customer value', AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR', _DROPPED: 'x' },
        extensionsDir: extensionsDir(t, ['dumps-env']),
      },
      { warn: (message) => warnings.push(message) },
    )
    const runtimeApi = sandbox.runtimeApi
    const invocation = await sandbox.invoke({})
    t.equal(invocation.status, 'success')
    const env = withoutTap(JSON.parse(invocation.response) as Record<string, string>)

    t.same(Object.keys(env).filter((key) => !RUNTIME_KEYS.has(key)), [], 'nothing but Lambda’s and the customer’s variables')
    t.match(env, {
      AWS_EXECUTION_ENV: 'AWS_Lambda_python3.12',
      TZ: ':UTC',
      LANG: 'en_US.UTF-8',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
      AWS_LAMBDA_FUNCTION_NAME: 'env-fn',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/env-fn',
      AWS_LAMBDA_LOG_FORMAT: 'Text',
      AWS_LAMBDA_RUNTIME_API: runtimeApi,
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'eu-west-1',
      AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
      AWS_XRAY_DAEMON_ADDRESS: '169.254.79.129:2000',
      _AWS_XRAY_DAEMON_ADDRESS: '169.254.79.129',
      _AWS_XRAY_DAEMON_PORT: '2000',
      _HANDLER: 'app.handler',
      CUSTOMER_KEY: 'customer value',
    })
    // The host folders with plain processes; Lambda's own paths inside the bwrap sandbox ('auto'
    // falls back to plain processes where bwrap cannot run).
    const plain = env.LAMBDA_TASK_ROOT === fn('returns-env') && env.LAMBDA_RUNTIME_DIR === PYTHON_RUNTIME_DIR
    const sandboxed = env.LAMBDA_TASK_ROOT === '/var/task' && env.LAMBDA_RUNTIME_DIR === '/var/runtime'
    t.ok(isolation === 'none' ? plain : plain || sandboxed, `LAMBDA_TASK_ROOT ${env.LAMBDA_TASK_ROOT} and LAMBDA_RUNTIME_DIR ${env.LAMBDA_RUNTIME_DIR}`)
    t.match(env.AWS_LAMBDA_RUNTIME_API, /^127\.0\.0\.1:\d+$/, 'host:port, no scheme')
    t.match(env.AWS_LAMBDA_LOG_STREAM_NAME, /^\d{4}\/\d\d\/\d\d\/\[\$LATEST\][0-9a-f]{32}$/)
    t.match(env._X_AMZN_TRACE_ID, /^Root=1-/, 'the client set _X_AMZN_TRACE_ID for the invoke')
    for (const key of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'LH_HOST_ONLY', 'AWS_LAMBDA_FUNCTION_TIMEOUT', 'AWS_LAMBDA_MAX_CONCURRENCY', '_LAMBDA_TELEMETRY_LOG_FD', '_DROPPED']) {
      t.notOk(key in env, `the runtime has no ${key}`)
    }
    t.notOk(Object.values(env).some((value) => Object.values(HOST_SECRETS).includes(value)), 'no host secret under any name')
    t.ok(warnings.includes('env _DROPPED dropped: Lambda drops customer variables whose names start with "_"'), 'the dropped key was reported through the warn hook')
    if (isolation === 'none') {
      t.ok(warnings.some((w) => w.includes('isolation')), 'plain processes come with a warning naming what differs')
    }
    t.ok(sandbox.record.warnings.some((w) => w.startsWith('env _DROPPED dropped')), 'and in the record')

    const line = await waitForLine(sandbox, 'dumps-env', 'dumps-env env ')
    const extensionEnv = withoutTap(JSON.parse(line.slice('dumps-env env '.length)) as Record<string, string>)
    for (const key of RUNTIME_ONLY) {
      t.notOk(key in extensionEnv, `the extension has no ${key}`)
    }
    t.same(Object.keys(extensionEnv).filter((key) => key.startsWith('_')), [], 'no key starting with "_"')
    t.equal(extensionEnv.AWS_LAMBDA_RUNTIME_API, runtimeApi)
    t.equal(extensionEnv.CUSTOMER_KEY, 'customer value', 'customer variables reach extensions too')
    t.notOk(Object.values(extensionEnv).some((value) => Object.values(HOST_SECRETS).includes(value)), 'no host secret')
    // Exactly the runtime's variables minus those (the trace id exists only inside an invoke).
    const expected = Object.fromEntries(Object.entries(env).filter(([key]) => !key.startsWith('_') && !RUNTIME_ONLY.includes(key)))
    t.same(extensionEnv, expected, 'the extension environment is the runtime environment, reduced')
  })
}

t.test('AWS_EXECUTION_ENV follows the profile', async (t) => {
  const sandbox = await startSandbox(t, { functionDir: fn('returns-env'), runtime: 'python3.11' })
  const env = JSON.parse((await sandbox.invoke({})).response) as Record<string, string>
  t.equal(env.AWS_EXECUTION_ENV, 'AWS_Lambda_python3.11')
})
