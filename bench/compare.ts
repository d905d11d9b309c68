// A/B of harness builds in one process: what a change buys per invoke, with the load of the moment
// landing on every build alike. Each argument is a package root holding a built dist/ (e.g. a copy
// of the checkout with one file changed and rebuilt); runs rotate between them.
// Usage: node dist/bench/compare.js [--invokes N] [--runs R] [--extensions N] <root> <root> [<root> …]
// (--extensions: that many of the bench's bare extension, subscribed to INVOKE, in every sandbox)
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import type { Sandbox } from '../harness/index.js'
import { median, percentile } from './stats.js'
import { ECHO_FUNCTION, Workspace } from './workspace.js'

interface Side {
  readonly root: string
  readonly sandbox: Sandbox
  readonly cpuUs: number[]
  readonly p50Us: number[]
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { invokes: { type: 'string' }, runs: { type: 'string' }, python: { type: 'string' }, extensions: { type: 'string' } },
  })
  const invokes = Number(values.invokes ?? 500)
  const runs = Number(values.runs ?? 9)
  const extensions = Number(values.extensions ?? 0)
  if (positionals.length < 2 || !Number.isInteger(invokes) || !Number.isInteger(runs) || !Number.isInteger(extensions) || extensions < 0) {
    throw new Error('usage: node dist/bench/compare.js [--invokes N] [--runs R] [--extensions N] [--python PATH] <root> <root> [<root> …]')
  }
  const python = values.python ?? '/usr/bin/python3'
  const workspace = new Workspace()
  const sides: Side[] = []
  try {
    for (const root of positionals) {
      const harness = (await import(pathToFileURL(path.resolve(root, 'dist', 'harness', 'index.js')).href)) as typeof import('../harness/index.js')
      const sandbox = await harness.boot({
        functionDir: ECHO_FUNCTION,
        handler: 'app.handler',
        python,
        isolation: 'none',
        ...(extensions > 0 ? { extensionsDir: workspace.extensions(extensions, 'bare', python).dir } : {}),
      })
      sides.push({ root, sandbox, cpuUs: [], p50Us: [] })
    }
    for (const side of sides) {
      for (let i = 0; i < 100; i++) {
        await side.sandbox.invoke({})
      }
    }
    for (let run = 0; run < runs; run++) {
      for (let i = 0; i < sides.length; i++) {
        const side = sides[(run + i) % sides.length]!
        const latencies: number[] = []
        const cpuBefore = process.cpuUsage()
        for (let n = 0; n < invokes; n++) {
          const before = performance.now()
          await side.sandbox.invoke({})
          latencies.push((performance.now() - before) * 1000)
        }
        const cpu = process.cpuUsage(cpuBefore)
        side.cpuUs.push((cpu.user + cpu.system) / invokes)
        side.p50Us.push(percentile(latencies.sort((a, b) => a - b), 0.5))
      }
    }
    for (const side of sides) {
      process.stdout.write(
        `${side.root}: Node CPU ${median(side.cpuUs).toFixed(0)} µs/invoke, p50 ${median(side.p50Us).toFixed(0)} µs ` +
          `(medians of ${runs} runs of ${invokes}; CPU per run: ${side.cpuUs.map((v) => v.toFixed(0)).join(' ')})\n`,
      )
    }
  } finally {
    await Promise.all(sides.map((side) => side.sandbox.dispose()))
    workspace.removeFolders()
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`)
  process.exitCode = 1
})
