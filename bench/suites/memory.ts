// Memory: the harness's own RSS per sandbox (the Node process, not the children), measured in a
// fresh Node process per probe so one side's garbage never lands on the other's figure. The same
// probes give the first boot in a fresh process and what the record grows by per 1000 invokes.
import { execFile } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { absoluteTarget, figure, type Figure } from '../figure.js'
import type { MemoryProbeResult } from '../memory-probe.js'
import type { SuiteContext } from './context.js'

const PROBE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'memory-probe.js')
const run = promisify(execFile)

async function probe(context: SuiteContext, side: 'harness' | 'baseline'): Promise<MemoryProbeResult> {
  const { config } = context
  const { stdout } = await run(
    process.execPath,
    ['--expose-gc', PROBE, side, String(config.memorySandboxes), String(config.invokes), config.python, config.isolation ?? ''],
    { timeout: 300_000, killSignal: 'SIGKILL' },
  )
  const result = JSON.parse(stdout.trim().split('\n').pop() ?? '') as MemoryProbeResult
  // The probe disposed its sandboxes before it exited.
  context.workspace.assertGone(result.pids)
  return result
}

export async function memorySuite(context: SuiteContext): Promise<Figure[]> {
  const { config } = context
  const harness: MemoryProbeResult[] = []
  const baseline: MemoryProbeResult[] = []
  for (let i = 0; i < config.memoryRuns; i++) {
    context.progress(`memory: probe ${i + 1}/${config.memoryRuns}`)
    if (i % 2 === 0) {
      harness.push(await probe(context, 'harness'))
      baseline.push(await probe(context, 'baseline'))
    } else {
      baseline.push(await probe(context, 'baseline'))
      harness.push(await probe(context, 'harness'))
    }
  }
  const pick = (side: MemoryProbeResult[], key: keyof Omit<MemoryProbeResult, 'side' | 'pids'>) => side.map((r) => r[key])
  const sandboxes = `${config.memorySandboxes} sandboxes per probe, after GC`
  return [
    figure({ suite: 'memory', name: 'RSS per sandbox (harness process)', unit: 'MB', harness: pick(harness, 'rssPerSandboxMB'), baseline: pick(baseline, 'rssPerSandboxMB'), note: sandboxes }),
    figure({ suite: 'memory', name: 'JS heap + external per sandbox', unit: 'MB', harness: pick(harness, 'heapPerSandboxMB'), baseline: pick(baseline, 'heapPerSandboxMB'), note: sandboxes }),
    figure({
      suite: 'memory',
      name: 'JS heap + external per 1000 invokes, one sandbox',
      unit: 'MB',
      harness: pick(harness, 'heapPer1000InvokesMB'),
      baseline: pick(baseline, 'heapPer1000InvokesMB'),
      // Issue #20: the record must not cost more than this per 1,000 invokes.
      target: absoluteTarget(1.0, 'MB'),
      note: `over ${config.invokes} invokes: the RunRecord keeps every invocation and timeline entry`,
    }),
    figure({
      suite: 'memory',
      name: 'JS heap + external per 1000 later invokes, one sandbox',
      unit: 'MB',
      harness: pick(harness, 'heapPer1000LaterInvokesMB'),
      baseline: pick(baseline, 'heapPer1000LaterInvokesMB'),
      note: `over ${config.invokes} more invokes: the record's growth once V8's code for them is compiled`,
    }),
    figure({
      suite: 'memory',
      name: 'first boot in a fresh Node process, runtime only',
      unit: 'ms',
      harness: pick(harness, 'firstBootMs'),
      baseline: pick(baseline, 'firstBootMs'),
      note: 'module loading and the one-off interpreter probe included',
    }),
  ]
}
