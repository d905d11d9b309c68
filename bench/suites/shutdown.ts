// Shutdown of processes that exit at once (the runtime on SIGTERM, well-behaved extensions on
// SHUTDOWN): shutdown() until every process is reaped, against signalling and reaping the same
// processes directly in Lambda's order (with no extension, SIGKILL the runtime, as RAPID does).
import { boot, type ShutdownRecord } from '../../harness/index.js'
import { BaselineSandbox } from '../baseline/baseline-sandbox.js'
import { figure, ratioPlusTarget, type Figure } from '../figure.js'
import { configurationName } from './boot.js'
import { paired, timed, type SuiteContext } from './context.js'

/** A shutdown that hit a deadline measures the deadline, not the harness: refuse it. */
function assertPrompt(record: ShutdownRecord, extensions: number): void {
  const late = record.extensions.filter((e) => e.killed || e.exit?.code !== 0)
  if (late.length > 0 || record.orphans.length > 0) {
    throw new Error(`shutdown (${configurationName(extensions)}): extensions killed or failed: ${late.map((e) => e.name).join(', ')}`)
  }
}

export async function shutdownSuite(context: SuiteContext): Promise<Figure[]> {
  const { config, workspace } = context
  const figures: Figure[] = []
  for (const extensions of config.extensionCounts) {
    const options = workspace.bootOptions(config.python, extensions, config.isolation)
    const spec = workspace.baselineSpec(config.python, extensions)
    const harness: number[] = []
    const baseline: number[] = []
    for (let run = 0; run < config.shutdownRuns; run++) {
      context.progress(`shutdown ${configurationName(extensions)}: run ${run + 1}/${config.shutdownRuns}`)
      await paired(
        run,
        async () => {
          const sandbox = await boot(options)
          try {
            const { ms, value: record } = await timed(() => sandbox.shutdown())
            assertPrompt(record, extensions)
            harness.push(ms)
          } finally {
            await workspace.disposeHarness(sandbox)
          }
        },
        async () => {
          const sandbox = await BaselineSandbox.boot(spec)
          try {
            baseline.push((await timed(() => sandbox.shutdown())).ms)
          } finally {
            await workspace.disposeBaseline(sandbox)
          }
        },
      )
    }
    figures.push(
      figure({
        suite: 'shutdown',
        name: `shutdown to all reaped, ${configurationName(extensions)}`,
        unit: 'ms',
        harness,
        baseline,
        target: ratioPlusTarget(1.1, 5),
        ...(extensions === 0 ? { note: 'no extension: the runtime is SIGKILLed, never SIGTERMed (RAPID)' } : {}),
      }),
    )
  }
  return figures
}
