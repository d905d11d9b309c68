// Options are validated once, at the boundary (STYLE §10–11): every bad value is a HarnessError
// with a user code whose message names the option, what was expected and what was given, and
// boot() refuses it before anything starts.
import path from 'node:path'
import t from 'tap'
import { HarnessError, boot, isHarnessError, type BootOptions, type HarnessErrorCode } from '../../harness/index.js'
import { validateOptions } from '../../harness/config/options.js'
import { EXTENSIONS, PYTHON, fn, startSandbox } from '../helpers.js'

const BASE: BootOptions = { functionDir: fn('echo'), handler: 'app.handler' }

/** The HarnessError `validateOptions` throws for these options, or a failure naming what happened. */
function rejection(options: unknown): HarnessError {
  try {
    validateOptions(options as BootOptions)
  } catch (error) {
    if (error instanceof HarnessError) {
      return error
    }
    throw new Error(`expected a HarnessError, got ${String(error)}`)
  }
  throw new Error(`expected ${JSON.stringify(options)} to be refused`)
}

t.test('defaults: only functionDir and handler are required', async (t) => {
  const parsed = validateOptions(BASE)
  t.match(parsed, {
    functionDir: fn('echo'),
    handler: 'app.handler',
    profile: { id: 'python3.12', executionEnv: 'AWS_Lambda_python3.12', rawUnicode: true, sigtermReachesPython: true },
    python: 'python3',
    runtimeCommand: undefined,
    runtimeClient: 'builtin',
    layers: [],
    timeoutMs: 3000,
    memoryMB: 128,
    env: {},
    functionName: 'harness-function',
    region: 'us-east-1',
    accountId: '123456789012',
    initTimeoutMs: 10_000,
    runtimeShutdownMs: undefined,
    freeze: false,
    platformEnv: {},
    warnings: [],
  })
})

t.test('accepted values are normalised', async (t) => {
  const relative = path.relative(process.cwd(), fn('echo'))
  const parsed = validateOptions({
    ...BASE,
    functionDir: relative,
    handler: 'pkg/sub.module.fn',
    runtime: 'python3.11',
    timeoutSec: 0.25,
    memoryMB: 10240,
    layers: [EXTENSIONS],
    extensionsDir: EXTENSIONS,
    runtimeShutdownMs: 0,
    freeze: true,
  })
  t.equal(parsed.functionDir, fn('echo'), 'a relative folder is resolved')
  t.equal(parsed.handler, 'pkg/sub.module.fn', 'a module path may have slashes and dots')
  t.equal(parsed.profile.id, 'python3.11')
  t.equal(parsed.profile.rawUnicode, false)
  t.equal(parsed.timeoutMs, 250, 'fractions of a second are allowed for fast tests')
  t.equal(parsed.memoryMB, 10240)
  t.same(parsed.layers, [
    { root: EXTENSIONS, extensionsDir: path.join(EXTENSIONS, 'extensions') },
    { root: EXTENSIONS, extensionsDir: EXTENSIONS },
  ], 'a layer’s extensions/ folder; extensionsDir is a layer whose folder is the extensions folder, last')
  t.equal(parsed.runtimeShutdownMs, 0)
  t.equal(parsed.freeze, true)
})

t.test('every invalid option: a user error code, and a message naming the option and the value', async (t) => {
  const file = path.join(fn('echo'), 'app.py')
  const cases: [string, Partial<Record<keyof BootOptions, unknown>>, HarnessErrorCode, RegExp][] = [
    ['functionDir missing', { functionDir: '/no/such/folder' }, 'ERR_FILE_NOT_FOUND', /^option functionDir: folder "\/no\/such\/folder" does not exist$/],
    ['functionDir empty', { functionDir: '' }, 'ERR_INVALID_OPTION', /^option functionDir: expected a folder path, got ""$/],
    ['functionDir not a string', { functionDir: 42 }, 'ERR_INVALID_OPTION', /^option functionDir: expected a folder path, got 42$/],
    ['functionDir a file', { functionDir: file }, 'ERR_INVALID_OPTION', /^option functionDir: expected a folder, got ".*app\.py \(not a folder\)"$/],
    ['handler with white space', { handler: 'app handler' }, 'ERR_INVALID_OPTION', /^option handler: expected module\.function .*, got "app handler"$/],
    ['handler with a space', { handler: 'my app.handler' }, 'ERR_INVALID_OPTION', /^option handler: .*got "my app\.handler"$/],
    ['handler missing', { handler: undefined }, 'ERR_INVALID_OPTION', /^option handler: .*got nothing$/],
    ['runtime unknown', { runtime: 'python2.7' }, 'ERR_INVALID_OPTION', /^option runtime: expected one of python3\.14, python3\.13, python3\.12, python3\.11, python3\.10, provided\.al2023, provided\.al2, got "python2\.7"$/],
    ['runtime not a string', { runtime: 3.12 }, 'ERR_INVALID_OPTION', /^option runtime: .*got 3\.12$/],
    ['python empty', { python: '' }, 'ERR_INVALID_OPTION', /^option python: expected an interpreter command or path, got ""$/],
    ['runtimeCommand empty', { runtimeCommand: [] }, 'ERR_INVALID_OPTION', /^option runtimeCommand: expected a non-empty list of non-empty strings, got \[\]$/],
    ['runtimeCommand a string', { runtimeCommand: 'python3 x.py' }, 'ERR_INVALID_OPTION', /^option runtimeCommand: .*got "python3 x\.py"$/],
    ['runtimeClient unknown', { runtimeClient: 'rapid' }, 'ERR_INVALID_OPTION', /^option runtimeClient: expected builtin \| awslambdaric \| image, got "rapid"$/],
    ['runtimeClient image without an image', { runtimeClient: 'image' }, 'ERR_INVALID_OPTION', /^option runtimeClient: expected "builtin" without an image/],
    ['runtimeClient with an OS-only runtime', { runtimeClient: 'awslambdaric', runtime: 'provided.al2023' }, 'ERR_INVALID_OPTION', /^option runtimeClient: expected no runtimeClient with an OS-only runtime/],
    ['runtimeClient with runtimeCommand', { runtimeClient: 'awslambdaric', runtimeCommand: ['./bootstrap'] }, 'ERR_INVALID_OPTION', /^option runtimeClient: expected no runtimeClient with runtimeCommand/],
    ['runtimeCommand with an empty part', { runtimeCommand: ['python3', ''] }, 'ERR_INVALID_OPTION', /^option runtimeCommand: .*got \["python3",""\]$/],
    ['layers not a list', { layers: EXTENSIONS }, 'ERR_INVALID_OPTION', /^option layers: expected a list of folders, got ".*"$/],
    ['a layer missing', { layers: [EXTENSIONS, '/no/layer'] }, 'ERR_FILE_NOT_FOUND', /^option layers\[1\]: folder "\/no\/layer" does not exist$/],
    ['extensionsDir missing', { extensionsDir: '/no/extensions' }, 'ERR_FILE_NOT_FOUND', /^option extensionsDir: folder "\/no\/extensions" does not exist$/],
    ['timeoutSec 0', { timeoutSec: 0 }, 'ERR_INVALID_OPTION', /^option timeoutSec: expected a number from 0\.001 to 900, got 0$/],
    ['timeoutSec 901', { timeoutSec: 901 }, 'ERR_INVALID_OPTION', /^option timeoutSec: .*got 901$/],
    ['timeoutSec NaN', { timeoutSec: Number.NaN }, 'ERR_INVALID_OPTION', /^option timeoutSec: .*got null$/],
    ['timeoutSec a string', { timeoutSec: '3' }, 'ERR_INVALID_OPTION', /^option timeoutSec: .*got "3"$/],
    ['memoryMB 127', { memoryMB: 127 }, 'ERR_INVALID_OPTION', /^option memoryMB: expected a number from 128 to 10240, got 127$/],
    ['memoryMB 10241', { memoryMB: 10241 }, 'ERR_INVALID_OPTION', /^option memoryMB: .*got 10241$/],
    ['telemetry.flushBeforeShutdown not a boolean', { telemetry: { flushBeforeShutdown: 'yes' } }, 'ERR_INVALID_OPTION', /^option telemetry\.flushBeforeShutdown: expected true or false, got "yes"$/],
    ['memoryMB a fraction', { memoryMB: 128.5 }, 'ERR_INVALID_OPTION', /^option memoryMB: expected a whole number of MB from 128 to 10240, got 128\.5$/],
    ['functionName with a dot', { functionName: 'my.fn' }, 'ERR_INVALID_OPTION', /^option functionName: expected 1–64 letters, digits, hyphens or underscores, got "my\.fn"$/],
    ['functionName too long', { functionName: 'f'.repeat(65) }, 'ERR_INVALID_OPTION', /^option functionName: .*got "f{65}"$/],
    ['region', { region: 'moon-1' }, 'ERR_INVALID_OPTION', /^option region: expected a region name like us-east-1, got "moon-1"$/],
    ['accountId', { accountId: '1234' }, 'ERR_INVALID_OPTION', /^option accountId: expected twelve digits, got "1234"$/],
    ['initTimeoutMs 0', { initTimeoutMs: 0 }, 'ERR_INVALID_OPTION', /^option initTimeoutMs: expected a number from 1 to 900000, got 0$/],
    ['runtimeShutdownMs over 2000', { runtimeShutdownMs: 2001 }, 'ERR_INVALID_OPTION', /^option runtimeShutdownMs: expected a number from 0 to 2000, got 2001$/],
    ['freeze not a boolean', { freeze: 'yes' }, 'ERR_INVALID_OPTION', /^option freeze: expected true or false, got "yes"$/],
    ['env an array', { env: ['A=1'] }, 'ERR_INVALID_OPTION', /^option env: expected an object of KEY: value strings, got \["A=1"\]$/],
    ['platformEnv with a number', { platformEnv: { A: 1 } }, 'ERR_INVALID_OPTION', /^option platformEnv: expected an object of string values, got \{"A":1\}$/],
  ]
  for (const [name, patch, code, message] of cases) {
    const error = rejection({ ...BASE, ...patch })
    t.equal(error.code, code, `${name}: ${code}`)
    t.match(error.message, message, `${name}: ${error.message}`)
    t.equal(error.isUserError, true, `${name}: a user error (the CLI exits 2)`)
  }
  t.equal(rejection(null).message, 'option options: expected an object, got null')
})

t.test('one exact text: the shape every validation message has', async (t) => {
  const error = rejection({ ...BASE, timeoutSec: 901 })
  t.equal(error.message, 'option timeoutSec: expected a number from 0.001 to 900, got 901')
  t.equal(error.name, 'HarnessError [ERR_INVALID_OPTION]')
  t.ok(isHarnessError(error, 'ERR_INVALID_OPTION'))
})

t.test('boot() refuses invalid options before it starts anything', async (t) => {
  // The API server comes first and Init after it: a boot that never reached onApiListening started nothing.
  const cases: [string, Partial<BootOptions>, HarnessErrorCode][] = [
    ['a bad timeout', { timeoutSec: -1 }, 'ERR_INVALID_OPTION'],
    ['a reserved env key', { env: { AWS_REGION: 'eu-west-1' } }, 'ERR_INVALID_OPTION'],
    ['a missing layer', { layers: ['/no/layer'] }, 'ERR_FILE_NOT_FOUND'],
    ['a missing function folder', { functionDir: '/no/function' }, 'ERR_FILE_NOT_FOUND'],
  ]
  for (const [name, patch, code] of cases) {
    const reached: string[] = []
    const hooks = { onApiListening: () => reached.push('api'), warn: (m: string) => reached.push(`warn ${m}`) }
    const error: unknown = await boot({ ...BASE, python: PYTHON, ...patch }, hooks).then(
      async (sandbox) => {
        await sandbox.dispose()
        return undefined
      },
      (rejected: unknown) => rejected,
    )
    t.ok(isHarnessError(error, code), `${name}: boot rejects with ${code} (${String(error)})`)
    t.same(reached, [], `${name}: no server, no warning, no process`)
  }

  // The control: valid options do reach the server.
  const reached: string[] = []
  const sandbox = await startSandbox(t, BASE, { onApiListening: () => reached.push('api') })
  t.same(reached, ['api'])
  t.equal(sandbox.record.init?.status, 'success')
})

t.test('expose and sandboxUser: Lambda\'s identity by default, paths that exist, never root inside', async (t) => {
  t.match(validateOptions(BASE), { expose: [], sandboxUser: { uid: 993, gid: 990, hostname: /^169\.254\.\d+\.\d+$/, nofile: 1024, nproc: 1024 } })
  t.match(validateOptions({ ...BASE, expose: [path.join(fn('echo'), '..', 'echo')], sandboxUser: { uid: 1000, gid: 1000, hostname: 'ip-10-0-0-1' } }), {
    expose: [fn('echo')],
    sandboxUser: { uid: 1000, gid: 1000, hostname: 'ip-10-0-0-1' },
  })
  t.match(rejection({ ...BASE, expose: ['/nonexistent-lh'] }), { code: 'ERR_FILE_NOT_FOUND', message: 'option expose[0]: "/nonexistent-lh" does not exist' })
  t.match(rejection({ ...BASE, expose: '/tmp' }), { code: 'ERR_INVALID_OPTION', message: 'option expose: expected a list of paths, got "/tmp"' })
  t.match(rejection({ ...BASE, sandboxUser: { uid: 0 } }), { code: 'ERR_INVALID_OPTION', message: 'option sandboxUser.uid: expected a whole number from 1 to 65533 (not root), got 0' })
  t.match(rejection({ ...BASE, sandboxUser: { hostname: 'a b' } }), { code: 'ERR_INVALID_OPTION', message: /^option sandboxUser\.hostname: expected a host name/ })
})
