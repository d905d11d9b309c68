// `lambda-harness check`: flags → CheckOptions → runCheck → the chosen report (stdout or --out)
// and the HTML timeline (--html). Exit code 0 when every check passed, 1 when any failed; bad
// usage throws a user HarnessError, which the CLI turns into exit code 2.
import { imageFlags, numberFlag, parseEnv, parseParameterOverrides, readTemplateText, warningWriter } from '../config/flags.js'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { DEFAULT_ACCOUNT_ID, DEFAULT_REGION, invalid, ISOLATION_MODES, type IsolationMode } from '../config/options.js'
import { PYTHON_RUNTIME_IDS } from '../config/profiles.js'
import { exportOtlpIfConfigured } from '../otlp.js'
import { interruptOnSignals } from '../interrupt.js'
import { DEFAULT_TOLERANCE } from './checks-resources.js'
import { DEFAULT_JOBS, DEFAULT_MANY_INVOKES, POSTGRES_MODES, type CheckOptions } from './options.js'
import { formatCheckReports, REPORTERS } from './reporters.js'
import type { CheckReport } from './runner.js'
import { parseShard, runCheckTargets } from './shard.js'
import { SCENARIOS } from './scenarios.js'
import { SCENARIO_NAMES } from './types.js'

export const CHECK_HELP = `lambda-harness check <extension file | layer folder | layer .zip>… [options]
lambda-harness check --template <template.yaml> --layer <LogicalId>… [options]

Runs the conformance suite: each scenario boots a fresh sandbox with the extension (or every
extension of the layer) and the built-in Python function, and each check says what was expected,
what happened and how to fix it. Several targets run one after another, in one report.

check options:
  --template <file> --layer <LogicalId>  check a layer declared in a SAM / CloudFormation template
                               (or cdk.out/<Stack>.template.json) by its logical id (repeatable)
  --parameter-overrides K=V    a template parameter's value (repeatable), instead of its Default
  --shard <i/n>                run only the i-th of n slices of the (target, scenario) pairs, for n CI
                               jobs; the shards' JUnit files merge into one run's suites
  --function <dir> --handler <h>  your function instead of the built-in one (the init, timeout and
                               failure scenarios always use the built-in one: they need a function
                               that fails its Init, runs past its timeout, or crashes)
  --runtime <id>               runtime profile: ${PYTHON_RUNTIME_IDS.join(', ')} (default python3.12)
  --python <interpreter>       the runtime's Python (default /usr/bin/python3)
  --only <scenario>            run only this scenario (repeatable, or comma-separated):
                               ${SCENARIO_NAMES.join(', ')}
  --reporter <name>            ${REPORTERS.join(' | ')} (default text)
  --out <file>                 write the report there instead of stdout
  --html <file>                also write the HTML timeline of every scenario (one self-contained file)
  --trace <file>               also write every scenario as Chrome trace-event JSON (Perfetto: a process per scenario)
                               (OTEL_EXPORTER_OTLP_ENDPOINT set: every scenario also goes there over OTLP/HTTP)
  --invokes <N>                invokes of the many-invokes scenario (default ${DEFAULT_MANY_INVOKES})
  --jobs <N>                   scenarios run at the same time (default ${DEFAULT_JOBS})
  --postgres <mode>            ${POSTGRES_MODES.join(' | ')} (default auto: a throwaway PostgreSQL when a file
                               of the layer mentions DATABASE_URL)
  --postgres-bin <dir>         a system PostgreSQL's bin folder instead of the embedded server
  --env KEY=VALUE              configuration for the extension and the function (repeatable); {SINK_URL}
                               in a value becomes the scenario's HTTP collector (for telemetry-flushed)
  --pass-env NAME              copy this variable from your environment (repeatable); nothing else gets in
  --isolation <mode>           ${ISOLATION_MODES.join(' | ')} (default auto)
  --image <dir|tar>            the sandbox's root file system (as run's); --python is a path inside it
  --runtime-client <client>    builtin (default) | awslambdaric | image: the image's own /var/runtime/bootstrap
  --max-memory-growth-mb <MB>  many-invokes tolerance (default ${DEFAULT_TOLERANCE.memoryMB}), or:
  --max-memory-growth-percent <P>  of the memory after the warm-up, whichever is larger (default ${DEFAULT_TOLERANCE.memoryPercent})
  --max-fd-growth <N>          many-invokes tolerance (default ${DEFAULT_TOLERANCE.fds})
  --max-thread-growth <N>      many-invokes tolerance (default ${DEFAULT_TOLERANCE.threads})
  --list                       print every scenario and check and what it expects, and exit

Exit codes: 0 every check passed (or was skipped); 1 a check failed; 2 bad usage or input.
`

/** Every scenario and check, with what it expects: `check --list`, and the README's table. */
export function describeChecks(): string {
  const lines: string[] = []
  for (const spec of SCENARIOS) {
    lines.push(`${spec.name}: ${spec.title}`)
    for (const check of spec.checks) {
      lines.push(`  ${spec.name}/${check.name}: ${check.expected}`)
    }
  }
  return `${lines.join('\n')}\n`
}

export interface CheckCommandIo {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
}

export async function checkCommand(argv: string[], io: CheckCommandIo): Promise<number> {
  const { values, positionals } = parseCheckFlags(argv)
  if (values.help === true) {
    io.stdout(CHECK_HELP)
    return 0
  }
  if (values.list === true) {
    io.stdout(describeChecks())
    return 0
  }
  if ((values.template === undefined) !== (values.layer.length === 0)) {
    throw invalid(values.template === undefined ? '--layer' : '--template', '--template <file> and --layer <LogicalId> together', undefined)
  }
  const targets = [...positionals, ...(await templateLayers(values.template, values.layer, values['parameter-overrides']))]
  if (targets.length === 0) {
    throw invalid('check <target>', 'one or more extension files, layer folders or layer .zips', undefined)
  }
  const shard = values.shard === undefined ? undefined : parseShard(values.shard)
  const reporter = REPORTERS.find((name) => name === (values.reporter ?? 'text'))
  if (reporter === undefined) {
    throw invalid('--reporter', REPORTERS.join(' | '), values.reporter)
  }
  const options = checkOptions(values, targets[0] ?? '')
  const warn = warningWriter(io.stderr)
  const interrupt = interruptOnSignals(io.stderr)
  const reports = await runCheckTargets(options, targets, shard, {
    warn,
    scenarioDone: (scenario) =>
      io.stderr(`lambda-harness check: ${scenario.name} ${scenario.interrupted === true ? 'interrupted' : 'done'} in ${(scenario.durationMs / 1000).toFixed(1)} s\n`),
    interrupt: interrupt.signal,
  }).finally(() => interrupt.remove())
  const text = formatCheckReports(reports, reporter, targets)
  if (values.out === undefined) {
    io.stdout(text)
  } else {
    writeFileSync(values.out, text)
  }
  if (values.html !== undefined) {
    writeFileSync(values.html, await checkTimelineHtml(reports))
  }
  const several = reports.length > 1
  const sections = reports.flatMap((report) => report.scenarios.map((s) => ({ title: several ? `${report.target.input} ${s.name}` : s.name, record: s.record })))
  if (values.trace !== undefined) {
    writeFileSync(values.trace, (await import('../record/trace.js')).renderTrace(sections))
  }
  await exportOtlpIfConfigured(sections, warn)
  return interrupt.exitCode() ?? (reports.every((report) => report.ok) ? 0 : 1)
}

function parseCheckFlags(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      function: { type: 'string' },
      handler: { type: 'string' },
      template: { type: 'string' },
      layer: { type: 'string', multiple: true, default: [] },
      'parameter-overrides': { type: 'string', multiple: true, default: [] },
      shard: { type: 'string' },
      runtime: { type: 'string' },
      python: { type: 'string' },
      only: { type: 'string', multiple: true, default: [] },
      reporter: { type: 'string' },
      out: { type: 'string' },
      html: { type: 'string' },
      trace: { type: 'string' },
      invokes: { type: 'string' },
      jobs: { type: 'string' },
      postgres: { type: 'string' },
      'postgres-bin': { type: 'string' },
      env: { type: 'string', multiple: true, default: [] },
      'pass-env': { type: 'string', multiple: true, default: [] },
      isolation: { type: 'string' },
      image: { type: 'string' },
      'runtime-client': { type: 'string' },
      'max-memory-growth-mb': { type: 'string' },
      'max-memory-growth-percent': { type: 'string' },
      'max-fd-growth': { type: 'string' },
      'max-thread-growth': { type: 'string' },
      list: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}

/** The CheckOptions the flags give for the first target. */
function checkOptions(values: ReturnType<typeof parseCheckFlags>['values'], target: string): CheckOptions {
  const postgres = values.postgres === undefined ? undefined : POSTGRES_MODES.find((mode) => mode === values.postgres)
  if (values.postgres !== undefined && postgres === undefined) {
    throw invalid('--postgres', POSTGRES_MODES.join(' | '), values.postgres)
  }
  if ((values.function === undefined) !== (values.handler === undefined)) {
    throw invalid(values.function === undefined ? '--function' : '--handler', '--function <dir> and --handler <module.fn> together', undefined)
  }
  const tolerance = {
    ...(values['max-memory-growth-mb'] === undefined ? {} : { memoryMB: numberFlag('max-memory-growth-mb', values['max-memory-growth-mb']) }),
    ...(values['max-memory-growth-percent'] === undefined ? {} : { memoryPercent: numberFlag('max-memory-growth-percent', values['max-memory-growth-percent']) }),
    ...(values['max-fd-growth'] === undefined ? {} : { fds: numberFlag('max-fd-growth', values['max-fd-growth']) }),
    ...(values['max-thread-growth'] === undefined ? {} : { threads: numberFlag('max-thread-growth', values['max-thread-growth']) }),
  }
  return {
    target,
    ...(values.function === undefined ? {} : { functionDir: values.function, handler: values.handler }),
    ...(values.runtime === undefined ? {} : { runtime: values.runtime }),
    ...(values.python === undefined ? {} : { python: values.python }),
    only: values.only.flatMap((item) => item.split(',').map((s) => s.trim()).filter((s) => s !== '')),
    ...(values.invokes === undefined ? {} : { manyInvokes: numberFlag('invokes', values.invokes) }),
    ...(values.jobs === undefined ? {} : { jobs: numberFlag('jobs', values.jobs) }),
    ...(postgres === undefined ? {} : { postgres }),
    ...(values['postgres-bin'] === undefined ? {} : { postgresBinDir: values['postgres-bin'] }),
    // Checked with the other options by validateCheckOptions.
    ...(values.isolation === undefined ? {} : { isolation: values.isolation as IsolationMode }),
    ...imageFlags(values),
    env: parseEnv(values.env, values['pass-env']),
    tolerance,
  }
}

/** The layer folders `--template <file> --layer <LogicalId>` name, relative to here (stable report names). */
async function templateLayers(template: string | undefined, layers: readonly string[], overrides: readonly string[]): Promise<string[]> {
  if (template === undefined) {
    return []
  }
  // Loaded only here: the YAML parser is ~40 ms of every check's start (as run.ts loads it).
  const { layerFromTemplate } = await import('../config/template.js')
  const request = { file: template, text: readTemplateText(template), parameters: parseParameterOverrides(overrides), region: DEFAULT_REGION, accountId: DEFAULT_ACCOUNT_ID }
  return layers.map((id) => path.relative(process.cwd(), layerFromTemplate(request, id)) || '.')
}

/** The HTML timeline of a check run: a section per scenario, its checks listed under it. */
export async function checkTimelineHtml(reports: readonly CheckReport[]): Promise<string> {
  const several = reports.length > 1
  const { renderHtmlTimeline } = await import('../record/html.js')
  return renderHtmlTimeline(
    reports.flatMap((report) =>
      report.scenarios.map((scenario) => ({
        title: several ? `${report.target.input} ${scenario.name}` : scenario.name,
        subtitle: `${scenario.title} (function: ${scenario.function})`,
        record: scenario.record,
        checks: report.checks.filter((c) => c.scenario === scenario.name),
      })),
    ),
    { title: `lambda-harness check ${reports.map((r) => `${r.target.input}: ${r.target.extensions.join(', ')}`).join('; ')}` },
  )
}
