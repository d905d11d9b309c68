// A/B of cold boots across builds with one driver: every build's harness loaded into this one
// process, a boot of each in rotating order per run, so the load of the moment and the driver's
// own work land on every build alike (each build's own bench surrounds its boots with different
// sides). Prints per build the median boot-to-ready wall time and Node CPU per boot, and the
// medians' ratio to the first build's.
// Usage: node dist/bench/boot-ab.js [--runs N] [--extensions N] [--isolation bwrap|none] [--python PATH] <root> <root> [<root> …]
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import type { BootOptions, Sandbox } from '../harness/index.js'
import { median } from './stats.js'
import { ECHO_FUNCTION, Workspace } from './workspace.js'

interface Side {
  readonly root: string
  readonly boot: (options: BootOptions) => Promise<Sandbox>
  readonly wallMs: number[]
  readonly cpuMs: number[]
}

async function bootOnce(side: Side, options: BootOptions, workspace: Workspace): Promise<{ wallMs: number; cpuMs: number }> {
  const cpuBefore = process.cpuUsage()
  const before = performance.now()
  const sandbox = await side.boot(options)
  const wallMs = performance.now() - before
  const cpu = process.cpuUsage(cpuBefore)
  await workspace.disposeHarness(sandbox)
  if (sandbox.record.init?.status !== 'success') {
    throw new Error(`${side.root}: Init ended ${sandbox.record.init?.status ?? 'without a record'}`)
  }
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { runs: { type: 'string' }, extensions: { type: 'string' }, isolation: { type: 'string' }, python: { type: 'string' } },
  })
  const runs = Number(values.runs ?? 30)
  const extensions = Number(values.extensions ?? 0)
  const isolation = values.isolation ?? 'bwrap'
  if (positionals.length < 2 || !Number.isInteger(runs) || runs < 1 || !Number.isInteger(extensions) || extensions < 0 || !['bwrap', 'none'].includes(isolation)) {
    throw new Error('usage: node dist/bench/boot-ab.js [--runs N] [--extensions N] [--isolation bwrap|none] [--python PATH] <root> <root> [<root> …]')
  }
  const workspace = new Workspace()
  try {
    const options = {
      ...workspace.bootOptions(values.python ?? '/usr/bin/python3', extensions, isolation as 'bwrap' | 'none'),
      functionDir: ECHO_FUNCTION,
    }
    const sides: Side[] = []
    for (const root of positionals) {
      const harness = (await import(pathToFileURL(path.resolve(root, 'dist', 'harness', 'index.js')).href)) as typeof import('../harness/index.js')
      sides.push({ root, boot: (o) => harness.boot(o), wallMs: [], cpuMs: [] })
    }
    // Untimed: module code, the interpreter probe's cache and the page cache warm up on every side.
    for (const side of sides) {
      await bootOnce(side, options, workspace)
      await bootOnce(side, options, workspace)
    }
    for (let run = 0; run < runs; run++) {
      for (let i = 0; i < sides.length; i++) {
        const side = sides[(run + i) % sides.length]!
        const { wallMs, cpuMs } = await bootOnce(side, options, workspace)
        side.wallMs.push(wallMs)
        side.cpuMs.push(cpuMs)
      }
    }
    const [first] = sides as [Side]
    for (const side of sides) {
      const wall = median(side.wallMs)
      const cpu = median(side.cpuMs)
      process.stdout.write(
        `${side.root}: boot to ready ${wall.toFixed(1)} ms (${(wall / median(first.wallMs)).toFixed(3)}×), Node CPU ${cpu.toFixed(2)} ms per boot (${(cpu / median(first.cpuMs)).toFixed(3)}×); medians of ${runs}\n`,
      )
    }
  } finally {
    workspace.removeFolders()
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`)
  process.exitCode = 1
})
