// Invoke round trip: sequential invokes of the echo function (a no-op handler), with 0 and 1
// INVOKE-subscribed extension. The baseline is a bare Python loop of the same HTTP calls (next +
// response) through http.client against a trivial Node server. The extension is user code, not
// the harness's, so every side runs the same one: bare-extension.py. Two more sides split the
// figure: our runtime client (bootstrap.py) against the trivial server ("same clients"), so that
// harness ÷ same clients is the Node harness alone; and the bare loop written on the socket, the
// floor under http.client's own cost. The Node process's CPU time per invoke is the harness's own
// cost, and the figure least moved by other jobs on the machine.
import { performance } from 'node:perf_hooks'
import { boot } from '../../harness/index.js'
import { BaselineSandbox } from '../baseline/baseline-sandbox.js'
import { figure, rateTarget, ratioTarget, type Figure } from '../figure.js'
import { percentile } from '../stats.js'
import { configurationName } from './boot.js'
import type { SuiteContext } from './context.js'

interface InvokeRun {
  readonly p50Ms: number
  readonly p99Ms: number
  readonly invokesPerSecond: number
  /** User + system CPU of this (Node) process per invoke. */
  readonly nodeCpuUs: number
}

type Side = 'harness' | 'bare' | 'client' | 'socket'
const SIDES: readonly Side[] = ['harness', 'bare', 'client', 'socket']

/** Times `count` sequential invokes after `warmup` untimed ones. */
async function measure(invoke: () => Promise<void>, warmup: number, count: number): Promise<InvokeRun> {
  for (let i = 0; i < warmup; i++) {
    await invoke()
  }
  const latencies = new Float64Array(count)
  const cpuBefore = process.cpuUsage()
  const startedAt = performance.now()
  for (let i = 0; i < count; i++) {
    const before = performance.now()
    await invoke()
    latencies[i] = performance.now() - before
  }
  const totalMs = performance.now() - startedAt
  const cpu = process.cpuUsage(cpuBefore)
  const sorted = Array.from(latencies).sort((a, b) => a - b)
  return {
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    invokesPerSecond: (count / totalMs) * 1000,
    nodeCpuUs: (cpu.user + cpu.system) / count,
  }
}

export async function invokeSuite(context: SuiteContext): Promise<Figure[]> {
  const { config, workspace } = context
  const figures: Figure[] = []
  for (const extensions of [0, 1]) {
    // The extension is user code, not the harness's: every side runs the same bare loop.
    const options = workspace.bootOptions(config.python, extensions, config.isolation, 'bare')
    const baselineRun = async (kind: Exclude<Side, 'harness'>, warmup: number, count: number): Promise<InvokeRun> => {
      const sandbox = await BaselineSandbox.boot(workspace.baselineSpec(config.python, extensions, kind, 'bare'))
      try {
        const result = await measure(() => sandbox.invoke(), warmup, count)
        if (sandbox.responses !== warmup + count) {
          throw new Error(`baseline invoke: ${sandbox.responses} responses for ${warmup + count} invokes`)
        }
        return result
      } finally {
        await workspace.disposeBaseline(sandbox)
      }
    }
    const run: Record<Side, (warmup: number, count: number) => Promise<InvokeRun>> = {
      harness: async (warmup, count) => {
        const sandbox = await boot(options)
        let failed: string | undefined
        try {
          const result = await measure(
            async () => {
              const invocation = await sandbox.invoke({})
              if (invocation.status !== 'success') {
                failed ??= `${invocation.status} ${invocation.errorType ?? ''}`
              }
            },
            warmup,
            count,
          )
          if (failed !== undefined) {
            throw new Error(`invoke (${configurationName(extensions)}): an invoke ended ${failed}`)
          }
          return result
        } finally {
          await workspace.disposeHarness(sandbox)
        }
      },
      bare: (warmup, count) => baselineRun('bare', warmup, count),
      client: (warmup, count) => baselineRun('client', warmup, count),
      socket: (warmup, count) => baselineRun('socket', warmup, count),
    }
    if (extensions === 0) {
      // First in the process, each side once: V8 has not yet optimised the per-invoke code (the
      // harness's is larger than the trivial server's, so it warms up later). Reported on its
      // own; the timed runs below then compare steady states.
      const first: Record<Side, InvokeRun> = {} as Record<Side, InvokeRun>
      for (const side of SIDES) {
        context.progress(`invoke: the first ${config.processWarmupInvokes} invokes in the process, ${side}`)
        first[side] = await run[side](0, config.processWarmupInvokes)
      }
      figures.push(
        figure({
          suite: 'invoke',
          name: `invoke p50, first ${config.processWarmupInvokes} invokes in the process, runtime only`,
          unit: 'ms',
          harness: [first.harness.p50Ms],
          baseline: [first.bare.p50Ms],
          reference: { label: 'same clients, trivial server', values: [first.client.p50Ms] },
          note: 'one run per side, before V8 has optimised either; the rows below come after it',
        }),
      )
    }
    // Then fresh sandboxes, untimed, until every side's per-invoke code has settled (config.ts).
    for (let i = 0; i < config.warmupSandboxes; i++) {
      context.progress(`invoke ${configurationName(extensions)}: warm-up sandbox ${i + 1}/${config.warmupSandboxes}`)
      for (const side of SIDES) {
        await run[side](0, config.invokes)
      }
    }
    const runs: Record<Side, InvokeRun[]> = { harness: [], bare: [], client: [], socket: [] }
    for (let i = 0; i < config.invokeRuns; i++) {
      context.progress(`invoke ${configurationName(extensions)}: run ${i + 1}/${config.invokeRuns}`)
      // Rotate which side goes first, so drift in machine load hits every side alike.
      for (let j = 0; j < SIDES.length; j++) {
        const side = SIDES[(i + j) % SIDES.length] ?? 'harness'
        runs[side].push(await run[side](config.warmupInvokes, config.invokes))
      }
    }
    const label = 'same clients, trivial server'
    const name = (metric: string) => `invoke ${metric}, ${configurationName(extensions)}`
    const pick = (side: Side, key: keyof InvokeRun) => runs[side].map((r) => r[key])
    const note = `${config.invokes} invokes per run, after ${config.processWarmupInvokes} per side in the process and ${config.warmupSandboxes} untimed sandboxes of ${config.invokes}`
    const input = (key: keyof InvokeRun) => ({
      harness: pick('harness', key),
      baseline: pick('bare', key),
      reference: { label, values: pick('client', key) },
    })
    figures.push(
      figure({ suite: 'invoke', name: name('p50'), unit: 'ms', ...input('p50Ms'), target: ratioTarget(1.3), note }),
      figure({
        suite: 'invoke',
        name: `${name('p50')}, the Node harness alone`,
        unit: 'ms',
        harness: pick('harness', 'p50Ms'),
        baseline: pick('client', 'p50Ms'),
        target: ratioTarget(1.3),
        note: 'harness ÷ the same clients against the trivial server: what the Node side adds, whatever the clients cost',
      }),
      figure({
        suite: 'invoke',
        name: `${name('p50')}, against the floor`,
        unit: 'ms',
        harness: pick('harness', 'p50Ms'),
        baseline: pick('socket', 'p50Ms'),
        note: 'harness ÷ the bare loop written on the socket (bare-runtime-socket.py): the baseline without http.client',
      }),
      figure({ suite: 'invoke', name: name('p99'), unit: 'ms', ...input('p99Ms'), target: ratioTarget(1.3), note }),
      figure({ suite: 'invoke', name: name('throughput'), unit: 'invokes/s', ...input('invokesPerSecond'), target: rateTarget(1.3), note }),
      figure({
        suite: 'invoke',
        name: `Node CPU per invoke, ${configurationName(extensions)}`,
        unit: 'µs',
        ...input('nodeCpuUs'),
        note: 'user + system CPU of the Node process (harness vs trivial server), per invoke',
      }),
    )
  }
  return figures
}
