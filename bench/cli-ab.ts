// A/B of the CLI's own cost across builds: `lambda-harness run` of the echo function, a fresh
// process each time, from several package roots (each with a built dist/) in rotating order, so
// the load of the moment lands on every build alike. Prints each root's median wall time and
// median CPU (user + system of the CLI process and its children, from /usr/bin/time), and each
// median's ratio to the first root's.
// Usage: node dist/bench/cli-ab.js [--runs N] [--python PATH] [--extensions DIR] [--no-isolation] <root> <root> [<root> …]
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { median } from './stats.js'
import { ECHO_FUNCTION } from './workspace.js'

interface Side {
  readonly root: string
  readonly wallMs: number[]
  readonly cpuMs: number[]
}

function once(side: Side, extra: readonly string[], python: string, timeFile: string): Promise<void> {
  const cli = path.resolve(side.root, 'dist', 'harness', 'cli.js')
  const args = ['-f', '%U %S', '-o', timeFile, process.execPath, cli, 'run', ECHO_FUNCTION, '--handler', 'app.handler', '--python', python, ...extra]
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.once('error', reject)
    child.once('close', (code) => {
      const wall = performance.now() - started
      if (code !== 0) {
        reject(new Error(`${cli} exited ${code}: ${stderr}`))
        return
      }
      const [user = 0, system = 0] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number)
      side.wallMs.push(wall)
      side.cpuMs.push((user + system) * 1000)
      resolve()
    })
  })
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { runs: { type: 'string' }, python: { type: 'string' }, extensions: { type: 'string' }, 'no-isolation': { type: 'boolean' } },
  })
  const runs = Number(values.runs ?? 20)
  if (positionals.length < 2 || !Number.isInteger(runs) || runs < 1) {
    throw new Error('usage: node dist/bench/cli-ab.js [--runs N] [--python PATH] [--extensions DIR] [--no-isolation] <root> <root> [<root> …]')
  }
  const python = values.python ?? '/usr/bin/python3'
  const extra = [...(values.extensions === undefined ? [] : ['--extensions', values.extensions]), ...(values['no-isolation'] === true ? ['--no-isolation'] : [])]
  const dir = mkdtempSync(path.join(tmpdir(), 'lh-cli-ab-'))
  const timeFile = path.join(dir, 'time')
  const sides: Side[] = positionals.map((root) => ({ root, wallMs: [], cpuMs: [] }))
  try {
    // Untimed: the page cache and the interpreter probe's cache.
    for (const side of sides) {
      await once(side, extra, python, timeFile)
      side.wallMs.pop()
      side.cpuMs.pop()
    }
    for (let run = 0; run < runs; run++) {
      for (let i = 0; i < sides.length; i++) {
        await once(sides[(run + i) % sides.length]!, extra, python, timeFile)
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const first = sides[0]!
  for (const side of sides) {
    const wall = median(side.wallMs)
    const cpu = median(side.cpuMs)
    process.stdout.write(
      `${side.root}: wall ${wall.toFixed(0)} ms (${(wall / median(first.wallMs)).toFixed(2)}×), CPU ${cpu.toFixed(0)} ms (${(cpu / median(first.cpuMs)).toFixed(2)}×), medians of ${runs}\n`,
    )
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`)
  process.exitCode = 1
})
