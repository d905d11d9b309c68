// The results as a terminal table and as RESULTS.md.
import type { BenchConfig, SuiteName } from './config.js'
import type { Figure, Unit } from './figure.js'
import type { Machine } from './machine.js'
import type { Spread } from './stats.js'

export interface BenchResults {
  readonly startedAt: string
  readonly durationMs: number
  readonly command: string
  readonly config: BenchConfig
  readonly machine: Machine
  readonly figures: readonly Figure[]
  /** Process groups checked after their sandbox was torn down, and live members found (must be 0). */
  readonly processes: { readonly checked: number; readonly leftover: number }
}

const SUITE_TITLES: Record<SuiteName, string> = {
  boot: 'Cold boot to ready',
  invoke: 'Invoke round trip',
  shutdown: 'Shutdown',
  scale: 'Scale',
  memory: 'Memory (and the first boot of a fresh process)',
  cli: 'The CLI, a fresh process per run',
  check: '`lambda-harness check` wall time',
}

export function formatNumber(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) {
    return String(value)
  }
  if (unit === 'invokes/s') {
    return value.toFixed(0)
  }
  if (unit === 'MB') {
    return value.toFixed(3)
  }
  if (unit === 'µs') {
    return value.toFixed(0)
  }
  return Math.abs(value) < 10 ? value.toFixed(2) : value.toFixed(1)
}

function spreadText(spread: Spread, unit: Unit): string {
  const f = (v: number) => formatNumber(v, unit)
  return spread.n > 1 ? `${f(spread.median)} [${f(spread.min)}–${f(spread.max)}]` : f(spread.median)
}

function ratioText(figure: Figure): string {
  if (figure.unit === 'MB') {
    // Per-sandbox memory of a baseline that keeps almost nothing makes a ratio meaningless.
    return Math.abs(figure.baseline.median) < 0.05 ? 'n/a' : `${figure.ratio.toFixed(2)}×`
  }
  return `${figure.ratio.toFixed(2)}×`
}

function targetText(figure: Figure): string {
  if (figure.target === undefined) {
    return 'none (for information)'
  }
  return `${figure.target.description} ${figure.target.met ? 'met' : 'MISSED'}`
}

function overheadText(figure: Figure): string {
  const sign = figure.overhead >= 0 ? '+' : '−'
  return `${sign}${formatNumber(Math.abs(figure.overhead), figure.unit)} ${figure.unit}`
}

/** A plain fixed-width table for the terminal. */
export function renderTable(results: BenchResults): string {
  const header = ['figure', 'unit', 'harness median [min–max]', 'baseline median [min–max]', 'ratio', 'target', 'same clients, trivial server']
  const rows = results.figures.map((f) => [
    f.name,
    f.unit,
    spreadText(f.harness, f.unit),
    spreadText(f.baseline, f.unit),
    ratioText(f),
    targetText(f),
    f.reference === undefined ? '' : spreadText(f.reference.spread, f.unit),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

function settingsText(config: BenchConfig): string {
  const warmup = config.warmupBoots === 0 ? 'no warm-up' : `after ${config.warmupBoots} untimed boot(s) of each side`
  return [
    `suites: ${config.suites.join(', ')}${config.tiny ? ' (tiny mode)' : ''}`,
    `harness isolation: ${config.isolation ?? "the harness's default"}; the baseline runs the same processes directly on the host`,
    `boot: runtime + ${config.extensionCounts.join(' / ')} extensions, ${config.bootRuns} run(s) each of four rotating sides (isolated, plain, direct, bwrap floor), ${warmup}`,
    `invoke: first ${config.processWarmupInvokes} invokes per side in the process (their own figure), then ${config.warmupSandboxes} untimed sandbox(es) of ${config.invokes} per side and configuration, then ${config.invokeRuns} run(s) of ${config.invokes} invokes per configuration and side, after ${config.warmupInvokes} untimed`,
    `shutdown: runtime + ${config.extensionCounts.join(' / ')} extensions, ${config.shutdownRuns} paired run(s) each`,
    `scale: ${config.scaleCounts.join(', ')} sandboxes at once, runtime only, ${config.scaleRuns} run(s) each of four rotating sides (isolated, plain, direct, bwrap floor)`,
    `memory: ${config.memoryRuns} probe(s) per side, ${config.memorySandboxes} sandbox(es) each, ${config.invokes} invokes on one`,
    `cli: ${config.cliRuns} paired run(s) of \`lambda-harness run\` and its floor per configuration, after one untimed each`,
    `check: ${config.checkRuns} run(s) of \`lambda-harness check\` per extension (the tiny one's alternating with as many beside two busy processes); the baseline is computed from each run's report`,
  ]
    .map((s) => `- ${s}`)
    .join('\n')
}

export function renderMarkdown(results: BenchResults, findings: string): string {
  const { machine, config } = results
  const out: string[] = []
  out.push('# Bench results')
  out.push('')
  out.push(
    `Written by \`${results.command}\` on ${results.startedAt} (took ${(results.durationMs / 1000).toFixed(0)} s). ` +
      'The tables are regenerated on every run; the findings at the end come from `bench/findings.md`.',
  )
  out.push('')
  out.push('## Machine')
  out.push('')
  out.push('| CPU | cores | memory | OS | Node | Python | load average (1 min), start → end |')
  out.push('|---|---|---|---|---|---|---|')
  out.push(
    `| ${machine.cpuModel} | ${machine.cores} | ${machine.memoryGiB} GiB | ${machine.os} | ${machine.node} | ${machine.python} (\`${machine.pythonPath}\`) | ` +
      `${machine.loadAverage.start.toFixed(2)} → ${machine.loadAverage.end.toFixed(2)} |`,
  )
  out.push('')
  out.push('## Settings')
  out.push('')
  out.push(settingsText(config))
  out.push('')
  out.push(
    'Every figure is the median over the runs, with the spread as [min–max]. The ratio is a cost ratio of the medians ' +
      '(harness ÷ baseline for times and memory, baseline ÷ harness for invokes/s), so 1.00× is no overhead. ' +
      'Harness and baseline runs alternate, so load from other jobs lands on both.',
  )
  out.push('')
  out.push(`Processes: ${results.processes.checked} process groups checked after their teardown, ${results.processes.leftover} found alive.`)
  for (const suite of config.suites) {
    const figures = results.figures.filter((f) => f.suite === suite)
    if (figures.length === 0) {
      continue
    }
    const references = figures.some((f) => f.reference !== undefined)
    out.push('')
    out.push(`## ${SUITE_TITLES[suite]}`)
    out.push('')
    out.push(`| figure | harness | baseline | ratio | overhead | target |${references ? ' same clients, trivial server |' : ''} notes |`)
    out.push(`|---|---|---|---|---|---|${references ? '---|' : ''}---|`)
    for (const f of figures) {
      const reference = references ? ` ${f.reference === undefined ? '' : `${spreadText(f.reference.spread, f.unit)} ${f.unit}`} |` : ''
      out.push(
        `| ${f.name} | ${spreadText(f.harness, f.unit)} ${f.unit} | ${spreadText(f.baseline, f.unit)} ${f.unit} | ${ratioText(f)} | ` +
          `${overheadText(f)} | ${targetText(f)} |${reference} ${f.note ?? ''} |`,
      )
    }
  }
  out.push('')
  out.push(findings.trim())
  out.push('')
  return out.join('\n')
}
