// Scale: N sandboxes (runtime only) booted and shut down concurrently, wall time, against the
// same N process sets started, readied and SIGKILLed directly against N trivial servers.
import { boot, type Sandbox } from '../../harness/index.js'
import { BaselineSandbox } from '../baseline/baseline-sandbox.js'
import { figure, ratioTarget, type Figure } from '../figure.js'
import { paired, timed, type SuiteContext } from './context.js'

export async function scaleSuite(context: SuiteContext): Promise<Figure[]> {
  const { config, workspace } = context
  const options = workspace.bootOptions(config.python, 0, config.isolation)
  const spec = workspace.baselineSpec(config.python, 0)
  const figures: Figure[] = []
  for (const count of config.scaleCounts) {
    const harness: number[] = []
    const baseline: number[] = []
    const many = (one: () => Promise<void>) => timed(() => Promise.all(Array.from({ length: count }, one)))
    for (let run = 0; run < config.scaleRuns; run++) {
      context.progress(`scale ${count} sandbox${count === 1 ? '' : 'es'}: run ${run + 1}/${config.scaleRuns}`)
      await paired(
        run,
        async () => {
          const sandboxes: Sandbox[] = []
          const { ms } = await many(async () => {
            const sandbox = await boot(options)
            sandboxes.push(sandbox)
            await sandbox.shutdown()
            await sandbox.dispose()
          })
          harness.push(ms)
          // Records are read after the clock stopped: a copy each is not the harness's cost.
          for (const sandbox of sandboxes) {
            await workspace.disposeHarness(sandbox)
            if (sandbox.record.init?.status !== 'success') {
              throw new Error(`scale ${count}: Init ended ${sandbox.record.init?.status ?? 'without a record'}`)
            }
          }
        },
        async () => {
          const sandboxes: BaselineSandbox[] = []
          const { ms } = await many(async () => {
            const sandbox = await BaselineSandbox.boot(spec)
            sandboxes.push(sandbox)
            await sandbox.shutdown()
            await sandbox.dispose()
          })
          baseline.push(ms)
          for (const sandbox of sandboxes) {
            await workspace.disposeBaseline(sandbox)
          }
        },
      )
    }
    figures.push(
      figure({
        suite: 'scale',
        name: `${count} sandbox${count === 1 ? '' : 'es'} booted + shut down concurrently`,
        unit: 'ms',
        harness,
        baseline,
        // Issue #20 sets a target for 50 only; the smaller counts are for information.
        ...(count === 50 ? { target: ratioTarget(1.15) } : {}),
        note: 'wall time, runtime only',
      }),
    )
  }
  return figures
}
