// Cold boot to ready: boot() until Init is over (the runtime's first /next and every extension's
// first /event/next), against two floors: the same processes started directly and making the same
// first calls to a trivial server, in the same order (plain mode's floor), and the same processes
// started the same way inside a bare bwrap of the same sandbox (bwrap-floor.ts: the isolated
// boot's floor, since the namespace is part of the product). Four sides per run, rotating.
import { boot } from '../../harness/index.js'
import { BaselineSandbox } from '../baseline/baseline-sandbox.js'
import { BwrapFloor, bwrapCommandOf } from '../baseline/bwrap-floor.js'
import { figure, ratioTarget, type Figure } from '../figure.js'
import type { Workspace } from '../workspace.js'
import { rotated, timed, type SuiteContext } from './context.js'

export function configurationName(extensions: number): string {
  return extensions === 0 ? 'runtime only' : `runtime + ${extensions} extension${extensions === 1 ? '' : 's'}`
}

interface Side {
  readonly name: 'isolated' | 'plain' | 'direct' | 'bwrap floor'
  readonly run: () => Promise<number>
  readonly times: number[]
}

/**
 * The bwrap command line the harness uses for this configuration, from one untimed isolated boot;
 * undefined when the harness does not isolate (isolation "none", or no bwrap here).
 */
export async function harnessBwrapCommand(context: SuiteContext, extensions: number): Promise<string[] | undefined> {
  const { config, workspace } = context
  if (config.isolation === 'none') {
    return undefined
  }
  const sandbox = await boot(workspace.bootOptions(config.python, extensions, config.isolation))
  try {
    return bwrapCommandOf(sandbox)
  } finally {
    await workspace.disposeHarness(sandbox)
  }
}

function harnessSide(workspace: Workspace, name: Side['name'], options: Parameters<typeof boot>[0], extensions: number): Side {
  return {
    name,
    times: [],
    run: async () => {
      const { ms, value: sandbox } = await timed(() => boot(options))
      await workspace.disposeHarness(sandbox)
      const status = sandbox.record.init?.status
      if (status !== 'success') {
        throw new Error(`boot (${configurationName(extensions)}, ${name}): Init ended ${status ?? 'without a record'}`)
      }
      return ms
    },
  }
}

export async function bootSuite(context: SuiteContext): Promise<Figure[]> {
  const { config, workspace } = context
  const figures: Figure[] = []
  for (const extensions of config.extensionCounts) {
    const spec = workspace.baselineSpec(config.python, extensions)
    const command = await harnessBwrapCommand(context, extensions)
    const sides: Side[] = [
      harnessSide(workspace, 'plain', workspace.bootOptions(config.python, extensions, 'none'), extensions),
      {
        name: 'direct',
        times: [],
        run: async () => {
          const { ms, value: sandbox } = await timed(() => BaselineSandbox.boot(spec))
          await workspace.disposeBaseline(sandbox)
          return ms
        },
      },
    ]
    if (command !== undefined) {
      sides.push(harnessSide(workspace, 'isolated', workspace.bootOptions(config.python, extensions, config.isolation), extensions), {
        name: 'bwrap floor',
        times: [],
        run: async () => {
          const { ms, value: floor } = await timed(() => BwrapFloor.boot(command, spec))
          await floor.dispose()
          workspace.assertGone(floor.pids)
          return ms
        },
      })
    }
    // Untimed: the interpreter probe, module code and the page cache warm up on every side.
    for (let i = 0; i < config.warmupBoots; i++) {
      for (const side of sides) {
        await side.run()
      }
    }
    for (let run = 0; run < config.bootRuns; run++) {
      context.progress(`boot ${configurationName(extensions)}: run ${run + 1}/${config.bootRuns}`)
      for (const side of rotated(sides, run)) {
        side.times.push(await side.run())
      }
    }
    const times = (name: Side['name']) => sides.find((side) => side.name === name)?.times ?? []
    figures.push(...bootFigures(configurationName(extensions), times, command !== undefined))
  }
  return figures
}

/** The rows of one configuration: isolated against both floors (when the harness isolates), plain against the direct one. */
function bootFigures(configuration: string, times: (name: Side['name']) => number[], isolated: boolean): Figure[] {
  const figures: Figure[] = []
  if (isolated) {
    figures.push(
      figure({
        suite: 'boot',
        name: `boot to ready, ${configuration}`,
        unit: 'ms',
        harness: times('isolated'),
        baseline: times('direct'),
        note: 'isolated (bwrap) against the processes started directly: what the sandbox costs in all',
      }),
      figure({
        suite: 'boot',
        name: `boot to ready, ${configuration}, isolated vs the bwrap floor`,
        unit: 'ms',
        harness: times('isolated'),
        baseline: times('bwrap floor'),
        target: ratioTarget(1.1),
        note: "baseline: a bare bwrap with the harness's own command line (mounts, user/UTS/PID/network namespaces), its holder starting the same processes, the trivial server on 127.0.0.1:9001 inside",
      }),
    )
  }
  figures.push(
    figure({
      suite: 'boot',
      name: `boot to ready, ${configuration}, plain mode`,
      unit: 'ms',
      harness: times('plain'),
      baseline: times('direct'),
      target: ratioTarget(1.15),
      note: 'isolation "none" against the same processes started directly',
    }),
  )
  return figures
}
