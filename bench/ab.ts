// A/B of the whole bench across two builds: `node dist/bench/run.js` of each package root (each
// with a built dist/) in turn, the order swapped every pair so drift in the machine's load lands on
// both alike, the figures read from each run's --json. Per row it prints the geometric mean over the
// pairs of new ÷ old harness medians (a cost: for invokes/s old ÷ new), so above 1 is worse. Each
// build runs its own bench: rows only one of them has are named and left out.
// Usage: node dist/bench/ab.js [--pairs N] [--only LIST] [--json FILE] <old root> <new root> [-- <run.js options>]
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import type { Figure } from './figure.js'
import type { BenchResults } from './report.js'

interface Pair {
  readonly load: readonly [number, number]
  /** By row name: new ÷ old cost ratio of the harness medians. */
  readonly ratios: Map<string, number>
}

function runBench(root: string, only: string, extra: readonly string[], jsonFile: string): Promise<BenchResults> {
  const args = [path.join(root, 'dist', 'bench', 'run.js'), '--only', only, '--out', '-', '--json', jsonFile, ...extra]
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)))
    child.once('error', reject)
    child.once('close', (code) => {
      if (code !== 0) {
        reject(new Error(`the bench of ${root} exited ${code}: ${stderr}`))
        return
      }
      resolve(JSON.parse(readFileSync(jsonFile, 'utf8')) as BenchResults)
    })
  })
}

/** New ÷ old as a cost: a rate (invokes/s) is better higher, so its ratio is old ÷ new. */
function costRatio(older: Figure, newer: Figure): number {
  return newer.unit === 'invokes/s' ? older.harness.median / newer.harness.median : newer.harness.median / older.harness.median
}

/** Row names either build's bench has and the other's has not (each build runs its own bench). */
const onlyOneSide = new Set<string>()

function ratios(older: BenchResults, newer: BenchResults): Map<string, number> {
  const byName = new Map(older.figures.map((figure) => [figure.name, figure]))
  const result = new Map<string, number>()
  for (const figure of newer.figures) {
    const old = byName.get(figure.name)
    if (old === undefined) {
      onlyOneSide.add(figure.name)
    } else {
      result.set(figure.name, costRatio(old, figure))
    }
  }
  for (const name of byName.keys()) {
    if (!result.has(name)) {
      onlyOneSide.add(name)
    }
  }
  return result
}

function geometricMean(values: readonly number[]): number {
  return Math.exp(values.reduce((sum, value) => sum + Math.log(value), 0) / values.length)
}

function summary(pairs: readonly Pair[]): string {
  const names = [...new Set(pairs.flatMap((pair) => [...pair.ratios.keys()]))]
  const lines = ['| row | pairs | new ÷ old (geometric mean) | pairs min–max |', '|---|---|---|---|']
  for (const name of names) {
    const values = pairs.flatMap((pair) => (pair.ratios.has(name) ? [pair.ratios.get(name)!] : []))
    const flag = geometricMean(values) > 1.05 ? ' (> 1.05)' : ''
    lines.push(`| ${name} | ${values.length} | ${geometricMean(values).toFixed(3)}${flag} | ${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)} |`)
  }
  if (onlyOneSide.size > 0) {
    lines.push('', `rows one build's bench does not have (left out): ${[...onlyOneSide].join('; ')}`)
  }
  const loads = pairs.flatMap((pair) => pair.load)
  lines.push('', `load average (1 min) at each run's start: ${loads.map((load) => load.toFixed(1)).join(' ')}`)
  return lines.join('\n')
}

async function main(): Promise<void> {
  const dash = process.argv.indexOf('--')
  const own = dash === -1 ? process.argv.slice(2) : process.argv.slice(2, dash)
  const extra = dash === -1 ? [] : process.argv.slice(dash + 1)
  const { values, positionals } = parseArgs({ args: own, allowPositionals: true, options: { pairs: { type: 'string' }, only: { type: 'string' }, json: { type: 'string' } } })
  const pairCount = Number(values.pairs ?? 4)
  if (positionals.length !== 2 || !Number.isInteger(pairCount) || pairCount < 1) {
    throw new Error('usage: node dist/bench/ab.js [--pairs N] [--only LIST] [--json FILE] <old root> <new root> [-- <run.js options>]')
  }
  const [oldRoot, newRoot] = positionals.map((root) => path.resolve(root)) as [string, string]
  const only = values.only ?? 'boot,invoke,shutdown'
  const dir = mkdtempSync(path.join(tmpdir(), 'lh-ab-'))
  const pairs: Pair[] = []
  const raw: { old: BenchResults; new: BenchResults }[] = []
  try {
    for (let i = 0; i < pairCount; i++) {
      const results = new Map<string, { results: BenchResults; load: number }>()
      for (const root of i % 2 === 0 ? [oldRoot, newRoot] : [newRoot, oldRoot]) {
        process.stderr.write(`… pair ${i + 1}/${pairCount}: ${root}\n`)
        const load = loadavg()[0]!
        results.set(root, { results: await runBench(root, only, extra, path.join(dir, 'results.json')), load })
      }
      const older = results.get(oldRoot)!
      const newer = results.get(newRoot)!
      pairs.push({ load: [older.load, newer.load], ratios: ratios(older.results, newer.results) })
      raw.push({ old: older.results, new: newer.results })
      process.stderr.write(`${summary(pairs)}\n`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  process.stdout.write(`old: ${oldRoot}\nnew: ${newRoot}\n\n${summary(pairs)}\n`)
  if (values.json !== undefined) {
    writeFileSync(values.json, `${JSON.stringify({ oldRoot, newRoot, only, extra, pairs: raw }, null, 2)}\n`)
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`)
  process.exitCode = 1
})
