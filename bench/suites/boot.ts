// Cold boot to ready: boot() until Init is over (the runtime's first /next and every extension's
// first /event/next), against the same processes started directly and making the same first
// calls to a trivial server, in the same order.
import { boot } from '../../harness/index.js'
import { BaselineSandbox } from '../baseline/baseline-sandbox.js'
import { figure, ratioTarget, type Figure } from '../figure.js'
import { paired, timed, type SuiteContext } from './context.js'

export function configurationName(extensions: number): string {
  return extensions === 0 ? 'runtime only' : `runtime + ${extensions} extension${extensions === 1 ? '' : 's'}`
}

export async function bootSuite(context: SuiteContext): Promise<Figure[]> {
  const { config, workspace } = context
  const figures: Figure[] = []
  for (const extensions of config.extensionCounts) {
    const options = workspace.bootOptions(config.python, extensions, config.isolation)
    const spec = workspace.baselineSpec(config.python, extensions)
    const harnessBoot = async () => {
      const { ms, value: sandbox } = await timed(() => boot(options))
      await workspace.disposeHarness(sandbox)
      const status = sandbox.record.init?.status
      if (status !== 'success') {
        throw new Error(`boot (${configurationName(extensions)}): Init ended ${status ?? 'without a record'}`)
      }
      return ms
    }
    const baselineBoot = async () => {
      const { ms, value: sandbox } = await timed(() => BaselineSandbox.boot(spec))
      await workspace.disposeBaseline(sandbox)
      return ms
    }
    // Untimed: the interpreter probe, module code and the page cache warm up on both sides.
    for (let i = 0; i < config.warmupBoots; i++) {
      await harnessBoot()
      await baselineBoot()
    }
    const harness: number[] = []
    const baseline: number[] = []
    for (let run = 0; run < config.bootRuns; run++) {
      context.progress(`boot ${configurationName(extensions)}: run ${run + 1}/${config.bootRuns}`)
      await paired(
        run,
        async () => void harness.push(await harnessBoot()),
        async () => void baseline.push(await baselineBoot()),
      )
    }
    figures.push(figure({ suite: 'boot', name: `boot to ready, ${configurationName(extensions)}`, unit: 'ms', harness, baseline, target: ratioTarget(1.15) }))
  }
  return figures
}
