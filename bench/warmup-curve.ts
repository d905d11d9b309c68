// How an invoke's latency settles in a fresh Node process: p50 per block of invokes in one
// sandbox, and the main thread's and V8's worker threads' CPU per invoke in each block
// (/proc/self/task), so V8's warm-up and the scavenger show apart from the Python side.
// Usage: node dist/bench/warmup-curve.js [blocks, 8] [invokes per block, 500] [isolation: auto|none]
import { readdirSync, readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { boot } from '../harness/index.js'
import type { IsolationMode } from '../harness/config/options.js'
import { statFields } from '../harness/supervisor/process-groups.js'
import { Workspace } from './workspace.js'

/** CPU ticks (user + system, 10 ms each) by thread id: the main thread's id is the pid. */
function threadTicks(): Map<number, number> {
  const ticks = new Map<number, number>()
  for (const task of readdirSync('/proc/self/task')) {
    try {
      const fields = statFields(readFileSync(`/proc/self/task/${task}/stat`, 'utf8'))
      ticks.set(Number(task), Number(fields[11]) + Number(fields[12]))
    } catch {
      // The thread ended meanwhile.
    }
  }
  return ticks
}

async function main(): Promise<void> {
  const [blocksArg = '8', perBlockArg = '500', isolation = 'auto'] = process.argv.slice(2)
  const blocks = Number(blocksArg)
  const perBlock = Number(perBlockArg)
  const workspace = new Workspace()
  const sandbox = await boot(workspace.bootOptions('/usr/bin/python3', 0, isolation as IsolationMode))
  try {
    process.stdout.write('invokes      p50 µs  main thread µs/invoke  other threads µs/invoke\n')
    for (let block = 0; block < blocks; block++) {
      const before = threadTicks()
      const latencies: number[] = []
      for (let i = 0; i < perBlock; i++) {
        const started = performance.now()
        await sandbox.invoke({})
        latencies.push(performance.now() - started)
      }
      const after = threadTicks()
      let main = 0
      let others = 0
      for (const [tid, ticks] of after) {
        const used = ((ticks - (before.get(tid) ?? 0)) * 10_000) / perBlock
        if (tid === process.pid) {
          main += used
        } else {
          others += used
        }
      }
      latencies.sort((a, b) => a - b)
      const range = `${block * perBlock}–${(block + 1) * perBlock - 1}`
      process.stdout.write(
        `${range.padEnd(12)} ${((latencies[perBlock >> 1] ?? 0) * 1000).toFixed(0).padStart(6)}  ${main.toFixed(0).padStart(21)}  ${others.toFixed(0).padStart(23)}\n`,
      )
    }
  } finally {
    await sandbox.shutdown()
    await workspace.disposeHarness(sandbox)
    workspace.removeFolders()
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`)
  process.exitCode = 1
})
