// Views of a CheckReport: text (a line per check), TAP 14 (for tap-aware CI), JUnit XML (for CI
// dashboards), JSON (the whole report, RunRecords included).
import type { CheckReport } from './runner.js'
import type { CheckResult } from './types.js'

export const REPORTERS = ['text', 'tap', 'junit', 'json'] as const
export type ReporterName = (typeof REPORTERS)[number]

export function formatCheckReport(report: CheckReport, reporter: ReporterName): string {
  switch (reporter) {
    case 'text':
      return textReport(report)
    case 'tap':
      return tapReport([report], `lambda-harness check ${report.target.input}: ${report.target.extensions.join(', ')}`, false)
    case 'junit':
      return junitReport([report], `lambda-harness check ${report.target.input}`, false)
    case 'json':
      return `${JSON.stringify(report, null, 2)}\n`
  }
}

/**
 * The reports of one `check` call over `targets` (or one shard of it): one document whose suite
 * and test names depend on the targets only, never on the shard, so the shards' files merge.
 */
export function formatCheckReports(reports: readonly CheckReport[], reporter: ReporterName, targets: readonly string[]): string {
  if (targets.length === 1 && reports.length === 1) {
    return formatCheckReport(reports[0]!, reporter)
  }
  const title = `lambda-harness check ${targets.join(' ')}`
  const several = targets.length > 1
  switch (reporter) {
    case 'text': {
      const failed = reports.filter((r) => !r.ok).length
      const texts = reports.map((report) => textReport(report))
      return `${[...texts, reports.length === 0 ? `${title}: no scenario falls in this shard\n` : `${failed === 0 ? 'PASS' : 'FAIL'}: ${reports.length} targets, ${failed} failed\n`].join('\n')}`
    }
    case 'tap':
      return tapReport(reports, title, several)
    case 'junit':
      return junitReport(reports, title, several)
    case 'json':
      return `${JSON.stringify({ ok: reports.every((r) => r.ok), reports }, null, 2)}\n`
  }
}

/** `registers/name`, with the extension's name when the layer has several. */
function label(report: CheckReport, result: CheckResult): string {
  return report.target.extensions.length > 1 ? `${result.id} [${result.extension}]` : result.id
}

const MARK = { pass: '✓', fail: '✗', skip: '-' } as const

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}

function textReport(report: CheckReport): string {
  const lines: string[] = []
  const fn = report.function.builtin ? 'the built-in function' : `${report.function.dir} (${report.function.handler})`
  lines.push(`lambda-harness check ${report.target.input} (${report.target.kind}: ${report.target.extensions.join(', ')})`)
  lines.push(`with ${fn}, runtime ${report.runtime.profile} on ${report.runtime.python} ${report.runtime.pythonVersion ?? ''}`.trimEnd())
  lines.push(
    report.postgres.used
      ? `PostgreSQL probe: yes (${report.postgres.why}${report.postgres.startMs === null ? '' : `; started in ${seconds(report.postgres.startMs)}`})`
      : `PostgreSQL probe: no (${report.postgres.why})`,
  )
  const width = Math.max(...report.checks.map((c) => label(report, c).length), 10)
  for (const scenario of report.scenarios) {
    lines.push('', `${scenario.name}: ${scenario.title} (${seconds(scenario.durationMs)}, function: ${scenario.function})`)
    for (const result of report.checks.filter((c) => c.scenario === scenario.name)) {
      lines.push(`  ${MARK[result.outcome]} ${label(report, result).padEnd(width)}  ${result.summary}`)
      if (result.outcome === 'fail') {
        // Continuation lines stay under their label.
        const indent = (text: string) => text.replace(/\n/g, '\n                ')
        lines.push(`      expected: ${indent(result.expected)}`)
        lines.push(`      happened: ${indent(result.happened)}`)
        lines.push(`      fix:      ${indent(result.fix)}`)
      }
    }
  }
  if (report.warnings.length > 0) {
    lines.push('', 'Notes from the sandboxes:', ...report.warnings.map((warning) => `  ${warning}`))
  }
  if (report.interrupted !== undefined) {
    lines.push('', interruptedLine(report.interrupted))
  }
  const { total, passed, failed, skipped } = report.summary
  lines.push('', `${report.interrupted !== undefined ? 'INTERRUPTED' : report.ok ? 'PASS' : 'FAIL'}: ${total} checks, ${passed} passed, ${failed} failed, ${skipped} skipped in ${seconds(report.durationMs)}`)
  return `${lines.join('\n')}\n`
}

function interruptedLine(interrupted: NonNullable<CheckReport['interrupted']>): string {
  return `Interrupted (${interrupted.signal}): not finished, so not checked: ${interrupted.unfinished.join(', ')}`
}

/** A YAML-safe scalar: JSON strings are valid YAML. */
function yaml(value: unknown): string {
  return JSON.stringify(value)
}

function tapReport(reports: readonly CheckReport[], title: string, withTarget: boolean): string {
  const all = reports.flatMap((report) => report.checks.map((result) => ({ report, result })))
  const lines = ['TAP version 14', `# ${title}`, `1..${all.length}`]
  all.forEach(({ report, result }, index) => {
    const name = `${withTarget ? `${report.target.input} ` : ''}${label(report, result)}`.replace(/#/g, '\\#')
    const n = index + 1
    if (result.outcome === 'skip') {
      lines.push(`ok ${n} - ${name} # SKIP ${result.summary.replace(/\n/g, ' ')}`)
      return
    }
    lines.push(`${result.outcome === 'pass' ? 'ok' : 'not ok'} ${n} - ${name}`)
    lines.push('  ---')
    lines.push(`  summary: ${yaml(result.summary)}`)
    if (result.outcome === 'fail') {
      lines.push(`  expected: ${yaml(result.expected)}`)
      lines.push(`  happened: ${yaml(result.happened)}`)
      lines.push(`  fix: ${yaml(result.fix)}`)
    }
    const data = Object.entries(result.data)
    if (data.length > 0) {
      lines.push('  data:')
      for (const [key, value] of data) {
        lines.push(`    ${key}: ${yaml(value)}`)
      }
    }
    lines.push('  ...')
  })
  const count = (outcome: CheckResult['outcome']) => all.filter((c) => c.result.outcome === outcome).length
  lines.push(`# pass ${count('pass')}`, `# fail ${count('fail')}`, `# skip ${count('skip')}`)
  for (const report of reports) {
    if (report.interrupted !== undefined) {
      lines.push(`# ${interruptedLine(report.interrupted)}`)
    }
  }
  return `${lines.join('\n')}\n`
}

function xml(text: string): string {
  // XML 1.0 allows no control characters other than tab, newline and carriage return.
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
}

function junitReport(reports: readonly CheckReport[], title: string, withTarget: boolean): string {
  const sum = (key: 'total' | 'failed' | 'skipped') => reports.reduce((n, r) => n + r.summary[key], 0)
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xml(title)}" tests="${sum('total')}" failures="${sum('failed')}" errors="0" skipped="${sum('skipped')}" time="${(reports.reduce((n, r) => n + r.durationMs, 0) / 1000).toFixed(3)}">`,
  ]
  for (const report of reports) {
    lines.push(...junitSuites(report, withTarget ? `${report.target.input} ` : ''))
  }
  lines.push('</testsuites>')
  return `${lines.join('\n')}\n`
}

function junitSuites(report: CheckReport, prefix: string): string[] {
  const lines: string[] = []
  for (const scenario of report.scenarios) {
    const results = report.checks.filter((c) => c.scenario === scenario.name)
    lines.push(
      `  <testsuite name="${xml(`${prefix}${scenario.name}`)}" tests="${results.length}" failures="${results.filter((r) => r.outcome === 'fail').length}" errors="0" skipped="${results.filter((r) => r.outcome === 'skip').length}" time="${(scenario.durationMs / 1000).toFixed(3)}" timestamp="${report.startedAt.replace(/Z$/, '')}">`,
    )
    lines.push(`    <properties><property name="title" value="${xml(scenario.title)}"/><property name="function" value="${xml(scenario.function)}"/></properties>`)
    for (const result of results) {
      const open = `    <testcase classname="${xml(`lambda-harness.check.${scenario.name}`)}" name="${xml(report.target.extensions.length > 1 ? `${result.check} [${result.extension}]` : result.check)}" time="0">`
      if (result.outcome === 'pass') {
        lines.push(open, `      <system-out>${xml(result.summary)}</system-out>`, '    </testcase>')
      } else if (result.outcome === 'skip') {
        lines.push(open, `      <skipped message="${xml(result.summary)}"/>`, '    </testcase>')
      } else {
        lines.push(
          open,
          `      <failure message="${xml(result.summary)}" type="${xml(result.id)}">${xml(`expected: ${result.expected}\nhappened: ${result.happened}\nfix: ${result.fix}`)}</failure>`,
          '    </testcase>',
        )
      }
    }
    lines.push('  </testsuite>')
  }
  return lines
}
