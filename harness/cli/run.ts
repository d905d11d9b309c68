// `lambda-harness run`: flags → a RunPlan → one lifecycle (or a watch loop) → what the flags ask
// to see of the record. Exit code 0 clean, 1 not clean; bad input throws a user HarnessError.
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { imageFlags, numberFlag, parseEnv, parseParameterOverrides, readTemplateText, recordFlag, warningWriter } from '../config/flags.js'
import { DEFAULT_ACCOUNT_ID, DEFAULT_REGION, invalid, SHUTDOWN_REASONS, validateClientContext, type BootOptions, type ShutdownReason } from '../config/options.js'
import { HarnessError } from '../errors.js'
import { interruptOnSignals } from '../interrupt.js'
import { exportOtlpIfConfigured } from '../otlp.js'
import type { RunRecord } from '../record/run-record.js'
import { runLifecycle, type RunPlan } from '../run.js'
import { loadViews, presentRecord } from './present.js'

const RUN_OPTIONS = {
  handler: { type: 'string' },
  template: { type: 'string' },
  function: { type: 'string' },
  'parameter-overrides': { type: 'string', multiple: true, default: [] as string[] },
  layer: { type: 'string', multiple: true, default: [] as string[] },
  extensions: { type: 'string' },
  event: { type: 'string' },
  'event-json': { type: 'string' },
  invokes: { type: 'string' },
  runtime: { type: 'string' },
  python: { type: 'string' },
  'runtime-command': { type: 'string' },
  timeout: { type: 'string' },
  memory: { type: 'string' },
  env: { type: 'string', multiple: true, default: [] as string[] },
  'pass-env': { type: 'string', multiple: true, default: [] as string[] },
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
  expose: { type: 'string', multiple: true, default: [] as string[] },
  postgres: { type: 'boolean' },
  'postgres-bin': { type: 'string' },
  sink: { type: 'boolean' },
  'host-port': { type: 'string', multiple: true, default: [] as string[] },
  json: { type: 'string' },
  html: { type: 'string' },
  trace: { type: 'string' },
  quiet: { type: 'boolean' },
  'no-output': { type: 'boolean' },
  logs: { type: 'boolean' },
  watch: { type: 'boolean' },
} as const

function parseRunArgs(argv: string[]) {
  return parseArgs({ args: argv, allowPositionals: true, strict: true, options: RUN_OPTIONS })
}

type RunFlags = ReturnType<typeof parseRunArgs>['values']

export async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseRunArgs(argv)
  checkFunctionFlags(values, positionals)
  const invokes = numberFlag('invokes', values.invokes) ?? 1
  if (!Number.isInteger(invokes) || invokes < 0 || invokes > 100_000) {
    throw invalid('--invokes', 'a whole number from 0 to 100000', values.invokes)
  }
  const reason = (values['shutdown-reason'] ?? 'spindown') as ShutdownReason
  if (!SHUTDOWN_REASONS.includes(reason)) {
    throw invalid('--shutdown-reason', SHUTDOWN_REASONS.join(' | '), values['shutdown-reason'])
  }
  const boot = await bootOptions(values, bootFlags(values, positionals))
  const clientContext = values['client-context'] === undefined ? undefined : validateClientContext('--client-context', values['client-context'])
  const plan = { boot, payload: readEvent(values.event, values['event-json']), invokes, shutdownReason: reason, ...(clientContext === undefined ? {} : { clientContext }) }
  const report = values.quiet !== true && values.json !== '-'
  // The text report lists the record's warnings: on stderr too they would show twice.
  const warn = report ? () => undefined : warningWriter((text) => process.stderr.write(text))
  const views = await loadViews(values)
  const present = (record: RunRecord) => presentRecord(record, values, report, views)
  if (values.watch === true) {
    return watch(plan, warn, present)
  }
  const interrupt = interruptOnSignals((text) => process.stderr.write(text))
  const record = await runLifecycle({ ...plan, interrupt: interrupt.signal }, { warn }).finally(() => interrupt.remove())
  present(record)
  // After the report: a slow collector holds up the exit (5 s at most), never the verdict.
  await exportOtlpIfConfigured([{ title: `lambda-harness run ${record.function.name}`, record }], warningWriter((text) => process.stderr.write(text)))
  return interrupt.exitCode() ?? (record.verdict.clean ? 0 : 1)
}

/** One function folder and --handler, or a --template (which alone takes --function and --parameter-overrides). */
function checkFunctionFlags(values: RunFlags, positionals: string[]): void {
  if (positionals.length > 1 || (positionals.length === 0 && values.template === undefined)) {
    throw invalid('<function-dir>', 'exactly one function folder (or --template)', positionals.length === 0 ? undefined : positionals.join(' '))
  }
  if (values.handler === undefined && values.template === undefined) {
    throw invalid('--handler', 'module.function (e.g. app.handler)', undefined)
  }
  if (values.template === undefined && (values.function !== undefined || values['parameter-overrides'].length > 0)) {
    throw invalid(values.function === undefined ? '--parameter-overrides' : '--function', 'a --template to read', undefined)
  }
}

/** The boot options the flags set (a template fills in the rest). */
function bootFlags(values: RunFlags, positionals: string[]): Partial<BootOptions> {
  return {
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
}

/** The flags' options as they are, or read from --template with the flags winning. */
async function bootOptions(values: RunFlags, flags: Partial<BootOptions>): Promise<BootOptions> {
  if (values.template === undefined) {
    return { functionDir: '', handler: '', ...flags }
  }
  return (await import('../config/template.js')).bootFromTemplate(
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
}

function readEvent(file: string | undefined, json: string | undefined): Buffer {
  if (file !== undefined && json !== undefined) {
    throw new HarnessError('ERR_INVALID_OPTION', 'options --event and --event-json: expected one of them, got both')
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

/** Re-runs on every change of the function or a layer until Ctrl-C, the last report on screen. */
async function watch(plan: RunPlan, warn: (message: string) => void, present: (record: RunRecord) => void): Promise<number> {
  const { watchLifecycle, watchedPaths } = await import('../watch.js')
  // Listening until the end (signal-exit, the exit hook, takes a signal nobody else listens to as the
  // process's end): the first ends the watch after the run in progress, silently; a second stops at once.
  const interrupt = interruptOnSignals((text) => process.stderr.write(text), undefined)
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
    interrupt.signal,
  )
  interrupt.remove()
  return 0
}
