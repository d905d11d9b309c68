// Our runtime client against AWS's awslambdaric (`python -m awslambdaric`), on the same sandbox
// settings: every case runs through both, and what a caller, an extension and CloudWatch would
// see must be the same byte for byte (differential-kit.ts says what is compared and normalised).
// The interpreter is a parameter (LAMBDA_HARNESS_DIFF_PYTHON, default the project venv's; it
// must be able to import awslambdaric), and so are the profiles (LAMBDA_HARNESS_DIFF_PROFILES). Differences that must stay are in EXPECTED, with why.
import { existsSync } from 'node:fs'
import t, { type Test } from 'tap'
import type { RuntimeClient } from '../../harness/config/options.js'
import type { BootOptions, InvokeOptions } from '../../harness/index.js'
import { PostgresProbe } from '../../harness/probes/postgres.js'
import { VENV_PYTHON, extensionsDir, fn } from '../helpers.js'
import { observe, ownFramesOut, type Observed } from './differential-kit.js'

const PYTHON = process.env.LAMBDA_HARNESS_DIFF_PYTHON ?? VENV_PYTHON
const CLIENTS: readonly RuntimeClient[] = ['builtin', 'awslambdaric']
/** Up to 3.11 and from 3.12 awslambdaric differs (Unicode, where it waits for /next): one of each by default. */
const PROFILES = (process.env.LAMBDA_HARNESS_DIFF_PROFILES ?? 'python3.11,python3.12').split(',')
const FUNCTION = fn('differential')
/** 6 MiB + 100 bytes is the limit: a string of n characters is n + 2 bytes of JSON. */
const LIMIT_CHARS = 6 * 1024 * 1024 + 100 - 2

type Options = Partial<BootOptions> & { functionDir: string }

interface Case {
  readonly name: string
  readonly options: Options
  /** The events, in order, for one sandbox, with their invoke options. */
  readonly events: readonly (readonly [unknown, InvokeOptions?])[]
}

/**
 * Differences that stay, by case name pattern and the part of the observation, with the reason.
 * `normalise` is applied to both sides of that part before the comparison.
 */
interface Expected {
  readonly cases: RegExp
  readonly part: keyof Observed
  readonly why: string
  readonly normalise: (value: unknown) => unknown
}

const EXPECTED: readonly Expected[] = [
  {
    cases: /./,
    part: 'stderr',
    why: "a traceback of the client's own crash (after a 413, or an /init/error body beyond Latin-1) names the client's files: our bootstrap.py and lambda_harness_ric, awslambdaric's modules and runpy",
    normalise: (lines) => ownFramesOut(lines as string[]),
  },
]

const INVOKE_CASES = ['echo', 'unicode', 'raises', 'raises-nested', 'unserialisable', 'set', 'decimal', 'bytes', 'none', 'threads', 'logs', 'context']

const CLIENT_CONTEXT = JSON.stringify({
  client: { installation_id: 'install-1', app_title: 'app' },
  custom: { key: 'value' },
  env: { platform: 'test' },
  w3c: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'k=v', other: 'dropped', baggage: 3 },
})

function invokeEvents(): [unknown, InvokeOptions?][] {
  return [
    ...INVOKE_CASES.map((c): [unknown] => [{ case: c, text: 'é 漢字 😀' }]),
    [{ case: 'context' }, { clientContext: CLIENT_CONTEXT, cognitoIdentity: JSON.stringify({ cognitoIdentityId: 'id-1', cognitoIdentityPoolId: 'pool-1' }), tenantId: 'tenant-1' }],
    [{ case: 'big', size: LIMIT_CHARS }],
    [{ case: 'echo', after: 'at the limit' }],
    [{ case: 'exit' }],
    [{ case: 'echo', after: 'exit' }],
    // Over the limit: awslambdaric's client raises on the 413, the runtime exits 1.
    [{ case: 'big', size: LIMIT_CHARS + 1 }],
    [{ case: 'echo', after: 'too large' }],
  ]
}

const LOG_FORMATS: readonly [string, Record<string, string>][] = [
  ['text', {}],
  ['text DEBUG', { AWS_LAMBDA_LOG_LEVEL: 'DEBUG' }],
  ['JSON', { AWS_LAMBDA_LOG_FORMAT: 'JSON' }],
  ['JSON DEBUG', { AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: 'DEBUG' }],
]

const INIT_FAULTS: readonly [string, string][] = [
  ['syntax error', 'syntax_error.handler'],
  ['import error', 'import_error.handler'],
  ['raises on import', 'raises_on_import.handler'],
  ['raises on import, beyond Latin-1', 'raises_on_import_cjk.handler'],
  ['missing handler', 'app.missing'],
  ['missing module', 'no_such_module.handler'],
  ['malformed handler name', 'nodot'],
]

function cases(extensions: string): Case[] {
  const list: Case[] = []
  for (const runtime of PROFILES) {
    for (const [format, env] of LOG_FORMATS) {
      list.push({ name: `${runtime} ${format}: invokes`, options: { functionDir: FUNCTION, runtime, env }, events: invokeEvents() })
    }
    for (const [name, handler] of INIT_FAULTS) {
      for (const [format, env] of [LOG_FORMATS[0]!, LOG_FORMATS[2]!]) {
        list.push({ name: `${runtime} ${format}: ${name}`, options: { functionDir: FUNCTION, handler, runtime, env }, events: [[{ case: 'echo' }]] })
      }
    }
    for (const withExtension of [false, true]) {
      list.push({
        name: `${runtime}: SIGTERM closes an SQLAlchemy pool and a psycopg connection, ${withExtension ? 'with' : 'without'} an extension`,
        // Most of the 2 s window for the runtime: with SQLAlchemy and psycopg loaded, the interpreter's own
        // exit after sys.exit(0) took ~550 ms on a loaded 2-core machine (over the 300 ms default). 200 ms
        // stay for the extension: on 3.11 the handler cannot run, the share runs out and SHUTDOWN comes after.
        options: {
          functionDir: FUNCTION,
          handler: 'pools.handler',
          runtime,
          postgres: true,
          runtimeShutdownMs: 1800,
          ...(withExtension ? { extensionsDir: extensions } : {}),
        },
        events: [[{}]],
      })
    }
  }
  return list
}

/** Runs `tasks` at most `limit` at a time. */
async function pool<T>(tasks: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length)
  let next = 0
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < tasks.length) {
        const index = next++
        results[index] = await tasks[index]!()
      }
    }),
  )
  return results
}

function compare(t: Test, name: string, ours: Observed, theirs: Observed): void {
  for (const part of Object.keys(ours) as (keyof Observed)[]) {
    const expected = EXPECTED.filter((e) => e.part === part && e.cases.test(name))
    const fix = (value: unknown) => expected.reduce((v, e) => e.normalise(v), value)
    t.same(fix(ours[part]), fix(theirs[part]), `${name}: ${part}${expected.length > 0 ? ` (apart from: ${expected.map((e) => e.why).join('; ')})` : ''}`)
  }
}

t.test('our client and awslambdaric agree', { skip: !existsSync(PYTHON) && `no ${PYTHON} (make setup)` }, async (t) => {
  const probe = await PostgresProbe.start()
  t.teardown(() => probe.stop())
  const extensions = extensionsDir(t, ['well-behaved'])
  const list = cases(extensions)
  const runs = list.flatMap((c) =>
    CLIENTS.map((client) => () =>
      observe(
        t,
        { handler: 'app.handler', ...c.options, python: PYTHON, runtimeClient: client, timeoutSec: 10 },
        async (invoke) => {
          for (const [event, options] of c.events) {
            await invoke(event, options)
          }
        },
        { postgres: probe },
      ),
    ),
  )
  const observed = await pool(runs, 4)
  list.forEach((c, index) => compare(t, c.name, observed[index * 2]!, observed[index * 2 + 1]!))
})
