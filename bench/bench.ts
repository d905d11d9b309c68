// Runs the configured suites in order and collects their figures; every process group either side
// started is checked as its sandbox is torn down, and a leak fails the run.
import os from 'node:os'
import { performance } from 'node:perf_hooks'
import type { BenchConfig, SuiteName } from './config.js'
import type { Figure } from './figure.js'
import { describeMachine } from './machine.js'
import type { BenchResults } from './report.js'
import { bootSuite } from './suites/boot.js'
import { checkSuite } from './suites/check.js'
import { cliSuite } from './suites/cli.js'
import type { SuiteContext } from './suites/context.js'
import { invokeSuite } from './suites/invoke.js'
import { memorySuite } from './suites/memory.js'
import { scaleSuite } from './suites/scale.js'
import { shutdownSuite } from './suites/shutdown.js'
import { Workspace } from './workspace.js'

const RUNNERS: Record<SuiteName, (context: SuiteContext) => Promise<Figure[]>> = {
  boot: bootSuite,
  invoke: invokeSuite,
  shutdown: shutdownSuite,
  scale: scaleSuite,
  memory: memorySuite,
  cli: cliSuite,
  check: checkSuite,
}

export async function runBench(config: BenchConfig, command: string, progress: (message: string) => void): Promise<BenchResults> {
  const startedAt = new Date()
  const started = performance.now()
  const machine = describeMachine(config.python)
  const workspace = new Workspace()
  const figures: Figure[] = []
  try {
    for (const suite of config.suites) {
      figures.push(...(await RUNNERS[suite]({ config, workspace, progress })))
    }
  } finally {
    workspace.removeFolders()
  }
  const leftover = workspace.leftovers
  if (leftover.length > 0) {
    throw new Error(`bench: ${leftover.length} process(es) outlived their sandbox and were killed: ${leftover.join(', ')}`)
  }
  machine.loadAverage.end = os.loadavg()[0] ?? 0
  return {
    startedAt: startedAt.toISOString(),
    durationMs: performance.now() - started,
    command,
    config,
    machine,
    figures,
    processes: { checked: workspace.checkedProcesses, leftover: leftover.length },
  }
}
