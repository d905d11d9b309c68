// `npm run bench`: measure the harness against its baselines, print a table, write RESULTS.md.
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { PACKAGE_ROOT } from '../harness/paths.js'
import { runBench } from './bench.js'
import { BenchUsageError, parseConfig } from './config.js'
import { renderMarkdown, renderTable } from './report.js'

const FINDINGS = path.join(PACKAGE_ROOT, 'bench', 'findings.md')

function readFindings(): string {
  try {
    return readFileSync(FINDINGS, 'utf8')
  } catch {
    return '## Findings\n\n(bench/findings.md is missing.)'
  }
}

async function main(argv: string[]): Promise<number> {
  let config
  try {
    config = parseConfig(argv)
  } catch (error) {
    if (error instanceof BenchUsageError) {
      process.stderr.write(`${error.message === '' ? '' : `${error.message}\n`}${error.usage}\n`)
      return error.message === '' ? 0 : 2
    }
    throw error
  }
  const command = ['node dist/bench/run.js', ...argv].join(' ')
  const results = await runBench(config, command, (message) => process.stderr.write(`… ${message}\n`))
  process.stdout.write(`${renderTable(results)}\n`)
  if (config.outFile !== '-') {
    writeFileSync(config.outFile, renderMarkdown(results, readFindings()))
    process.stderr.write(`wrote ${config.outFile}\n`)
  }
  if (config.jsonFile !== undefined) {
    writeFileSync(config.jsonFile, `${JSON.stringify(results, null, 2)}\n`)
  }
  return 0
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error)?.stack ?? String(error)}\n`)
    process.exitCode = 1
  },
)
