// A fresh Node process (run with --expose-gc) that measures one side's memory: the first boot
// in a fresh process (module loading and the interpreter probe included), then the RSS and heap
// each further sandbox adds, then what `invokes` invokes add to one sandbox, and what as many more
// add after those (the steady state: V8's code for the invoke path is compiled by then). Prints one JSON line.
// Usage: node --expose-gc dist/bench/memory-probe.js <harness|baseline> <sandboxes> <invokes> <python> [isolation]
import { performance } from 'node:perf_hooks'
import type { Isolation } from './config.js'

export interface MemoryProbeResult {
  readonly side: 'harness' | 'baseline'
  readonly firstBootMs: number
  readonly rssPerSandboxMB: number
  readonly heapPerSandboxMB: number
  readonly rssPer1000InvokesMB: number
  readonly heapPer1000InvokesMB: number
  /** The same over a second batch of `invokes`: what the record grows by once the code is warm. */
  readonly heapPer1000LaterInvokesMB: number
  readonly pids: number[]
}

interface ProbeSandbox {
  invoke(): Promise<void>
  dispose(): Promise<void>
  pids(): number[]
}

const MB = 1024 * 1024

function settledMemory(): { rss: number; heap: number } {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) {
    throw new Error('memory-probe needs node --expose-gc')
  }
  // Twice: the first pass finalises what the second frees.
  gc()
  gc()
  const usage = process.memoryUsage()
  return { rss: usage.rss, heap: usage.heapUsed + usage.external }
}

async function main(): Promise<void> {
  const [side, sandboxesArg, invokesArg, python = '/usr/bin/python3', isolationArg = ''] = process.argv.slice(2)
  if (side !== 'harness' && side !== 'baseline') {
    throw new Error(`memory-probe: expected harness or baseline, got ${String(side)}`)
  }
  const sandboxCount = Number(sandboxesArg)
  const invokes = Number(invokesArg)
  const startedAt = performance.now()
  const { ECHO_FUNCTION, Workspace } = await import('./workspace.js')
  let bootOne: () => Promise<ProbeSandbox>
  if (side === 'harness') {
    const { boot } = await import('../harness/index.js')
    bootOne = async () => {
      const sandbox = await boot(new Workspace().bootOptions(python, 0, isolationArg === '' ? undefined : (isolationArg as Isolation)))
      return {
        invoke: async () => void (await sandbox.invoke({})),
        dispose: () => sandbox.dispose(),
        pids: () => sandbox.record.processes.flatMap((p) => (p.pid === null ? [] : [p.pid])),
      }
    }
  } else {
    const { BaselineSandbox } = await import('./baseline/baseline-sandbox.js')
    bootOne = async () => {
      const sandbox = await BaselineSandbox.boot({
        python,
        functionDir: ECHO_FUNCTION,
        handler: 'app.handler',
        runtime: 'client',
        extensions: [],
      })
      return { invoke: () => sandbox.invoke(), dispose: () => sandbox.dispose(), pids: () => sandbox.pids }
    }
  }
  const sandboxes: ProbeSandbox[] = []
  try {
    sandboxes.push(await bootOne())
    const firstBootMs = performance.now() - startedAt
    const before = settledMemory()
    sandboxes.push(...(await Promise.all(Array.from({ length: sandboxCount }, bootOne))))
    const booted = settledMemory()
    const first = sandboxes[0]
    for (let i = 0; i < invokes && first !== undefined; i++) {
      await first.invoke()
    }
    const invoked = settledMemory()
    for (let i = 0; i < invokes && first !== undefined; i++) {
      await first.invoke()
    }
    const later = settledMemory()
    const result: MemoryProbeResult = {
      side,
      firstBootMs,
      rssPerSandboxMB: (booted.rss - before.rss) / sandboxCount / MB,
      heapPerSandboxMB: (booted.heap - before.heap) / sandboxCount / MB,
      rssPer1000InvokesMB: invokes === 0 ? 0 : ((invoked.rss - booted.rss) / invokes) * 1000 / MB,
      heapPer1000InvokesMB: invokes === 0 ? 0 : ((invoked.heap - booted.heap) / invokes) * 1000 / MB,
      heapPer1000LaterInvokesMB: invokes === 0 ? 0 : ((later.heap - invoked.heap) / invokes) * 1000 / MB,
      pids: sandboxes.flatMap((s) => s.pids()),
    }
    process.stdout.write(`${JSON.stringify(result)}\n`)
  } finally {
    await Promise.all(sandboxes.map((s) => s.dispose()))
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`)
  process.exitCode = 1
})
