// The text report: a readable view of a RunRecord.
import type { InvocationRecord, RunRecord, RunResources, ShutdownRecord } from './run-record.js'

const MAX_RESPONSE_CHARS = 300

function ms(value: number): string {
  return `${value.toFixed(1)} ms`
}

function clip(text: string): string {
  const oneLine = text.replace(/\s*\n\s*/g, ' ')
  return oneLine.length > MAX_RESPONSE_CHARS ? `${oneLine.slice(0, MAX_RESPONSE_CHARS)}… (${text.length} chars)` : oneLine
}

function invocationLine(index: number, invocation: InvocationRecord): string {
  const error = invocation.errorType === undefined ? '' : ` ${invocation.errorType}`
  const init = invocation.init === undefined ? '' : ` [suppressed Init: ${invocation.init.status}]`
  const reset = invocation.resetReason === undefined ? '' : ` → reset (${invocation.resetReason})`
  const interrupted = invocation.interrupted === true ? ' (interrupted)' : ''
  return `  ${index + 1}. ${invocation.requestId}  ${invocation.status}${error}  ${ms(invocation.durationMs)}${init}${reset}${interrupted}\n     ${clip(invocation.response)}`
}

/** The shutdown as an ordered list of what happened, with times from its start. */
export function shutdownSteps(record: RunRecord, shutdown: ShutdownRecord): string[] {
  const end = shutdown.startedAtMs + shutdown.durationMs + 0.001
  const processes = new Set([shutdown.runtime?.name, ...shutdown.extensions.map((e) => e.name)])
  return record.timeline
    .filter((entry) => entry.atMs >= shutdown.startedAtMs && entry.atMs <= end)
    .filter((entry) => ['signal', 'event', 'exit'].includes(entry.kind) && (entry.process === undefined || processes.has(entry.process)))
    .map((entry) => {
      const toDeadline = shutdown.deadlineAtMs - entry.atMs
      const margin =
        entry.kind === 'exit' && shutdown.windowMs > 0
          ? toDeadline >= 0
            ? ` (${ms(toDeadline)} before the deadline)`
            : ` (${ms(-toDeadline)} after the deadline)`
          : ''
      return `  +${ms(entry.atMs - shutdown.startedAtMs).padStart(10)}  ${(entry.process ?? '').padEnd(20)} ${entry.detail}${margin}`
    })
}

function shutdownSection(record: RunRecord, shutdown: ShutdownRecord, title: string): string[] {
  return [
    `${title} (reason ${shutdown.reason}): ${ms(shutdown.durationMs)}; window ${shutdown.windowMs} ms, runtime share ${shutdown.runtimeShareMs} ms`,
    ...shutdownSteps(record, shutdown),
  ]
}

export function formatReport(record: RunRecord, options: { output?: boolean } = {}): string {
  const lines = [...headerLines(record)]
  if (record.init !== null) {
    const exts = record.init.extensions.map((e) => `${e.name}${e.external ? '' : ' (internal)'} [${e.events.join(', ')}]`).join(', ')
    lines.push(
      `Init: ${record.init.status}${record.init.errorType === undefined ? '' : ` (${record.init.errorType})`} in ${ms(record.init.durationMs)}` +
        (exts === '' ? ', no extensions' : `, extensions: ${exts}`),
    )
  }
  if (record.invocations.length > 0) {
    lines.push(`Invocations (${record.invocations.length}):`)
    record.invocations.forEach((invocation, index) => lines.push(invocationLine(index, invocation)))
  }
  record.resets.forEach((reset, index) => lines.push(...shutdownSection(record, reset, `Reset ${index + 1}`)))
  if (record.shutdown !== null) {
    lines.push(...shutdownSection(record, record.shutdown, 'Shutdown'))
  }
  lines.push(...resourceLines(record.resources))
  if (options.output !== false) {
    lines.push(...outputLines(record))
  }
  if (record.verdict.clean) {
    lines.push('Verdict: clean')
  } else {
    lines.push(`Verdict: ${record.verdict.problems.length} problem(s)`)
    for (const problem of record.verdict.problems) {
      lines.push(`  ✗ ${problem.message}`)
    }
  }
  return `${lines.join('\n')}\n`
}

/** The function, the runtime, the template, the warnings, and whether the run was interrupted. */
function headerLines(record: RunRecord): string[] {
  const lines: string[] = []
  const py = record.runtime.python
  lines.push(`lambda-harness ${record.harness.version}: ${record.function.dir} (${record.function.handler})`)
  lines.push(
    `Runtime: ${record.runtime.profile} (${record.runtime.os})` +
      (py === null ? `, command ${record.runtime.command.join(' ')}` : `, interpreter ${py.command} ${py.version ?? '?'}`),
  )
  if (py !== null) {
    lines.push(
      py.boto3 === null
        ? 'AWS SDK: the interpreter has no boto3 (Lambda\'s Python runtimes include boto3 and botocore)'
        : `AWS SDK: boto3 ${py.boto3}, botocore ${py.botocore ?? 'none'}`,
    )
  }
  const template = record.function.template
  if (template !== undefined) {
    lines.push(`Template: ${template.file} (${template.logicalId}); from it: ${template.fromTemplate.join(', ') || 'nothing'}; the rest from the command line or the defaults`)
  }
  for (const warning of record.warnings) {
    lines.push(`Warning: ${warning}`)
  }
  if (record.interrupted) {
    lines.push('Interrupted: the run was stopped before it finished (a Shutdown still ran)')
  }
  return lines
}

/** The database sessions and the telemetry subscriptions. */
function resourceLines({ postgres, telemetry }: RunResources): string[] {
  const lines: string[] = []
  if (postgres !== undefined) {
    lines.push(`Database sessions: ${postgres.closed} closed, ${postgres.dropped} dropped, ${postgres.open} open`)
    for (const session of postgres.sessions) {
      const mark = session.state === 'closed' ? '✓' : '✗'
      lines.push(`  ${mark} ${session.process.padEnd(20)} backend ${session.backendPid}  ${session.state}${session.reason === undefined ? '' : ` (${session.reason})`}`)
    }
  }
  for (const s of telemetry?.subscribers ?? []) {
    const api = s.api === 'telemetry' ? 'Telemetry API' : 'Logs API'
    lines.push(
      `Telemetry: ${s.name} (${api}, ${s.types.join('+')}): ${s.delivered} of ${s.records} records delivered in ${s.batches} batches, ` +
        `${s.retries} retries, ${s.dropped} dropped, ${s.lost} lost`,
    )
  }
  return lines
}

function outputLines(record: RunRecord): string[] {
  const lines: string[] = []
  const output = record.timeline.filter((entry) => entry.kind === 'output')
  if (output.length > 0) {
    lines.push('Output:')
    for (const entry of output) {
      lines.push(`  [${entry.process ?? '?'}] ${entry.detail}`)
    }
  }
  if (record.droppedOutputLines > 0) {
    lines.push(`  … ${record.droppedOutputLines} more output lines not kept`)
  }
  return lines
}
