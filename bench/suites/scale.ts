// Scale: N sandboxes (runtime only) booted and shut down concurrently, wall time, against two
// floors as boot.ts has them: the same N process sets started, readied and SIGKILLed directly
// against N trivial servers (plain mode's floor), and N bare bwraps with the harness's own command
// line, each with its holder starting the same runtime against the trivial server inside and
// shutting it down the same way (bwrap-floor.ts: the isolated harness's floor). Four sides per
// run, rotating, so load lands on all of them.
import { boot, type BootOptions, type Sandbox } from '../../harness/index.js'
import { BaselineSandbox } from '../baseline/baseline-sandbox.js'
import { BwrapFloor } from '../baseline/bwrap-floor.js'
import { figure, ratioTarget, type Figure } from '../figure.js'
import type { Workspace } from '../workspace.js'
import { harnessBwrapCommand } from './boot.js'
import { rotated, timed, type SuiteContext } from './context.js'

interface Side {
  readonly name: 'isolated' | 'plain' | 'direct' | 'bwrap floor'
  /** Wall time of `count` sandboxes booted and shut down concurrently. */
  readonly run: (count: number) => Promise<number>
  readonly times: number[]
}

/** `count` of `one` at once, timed; what they return is checked after the clock stopped. */
async function many<T>(count: number, one: () => Promise<T>): Promise<{ ms: number; value: T[] }> {
  return timed(() => Promise.all(Array.from({ length: count }, one)))
}

function harnessSide(workspace: Workspace, name: Side['name'], options: BootOptions): Side {
  return {
    name,
    times: [],
    run: async (count) => {
      const { ms, value: sandboxes } = await many(count, async () => {
        const sandbox: Sandbox = await boot(options)
        await sandbox.shutdown()
        await sandbox.dispose()
        return sandbox
      })
      // Records are read after the clock stopped: a copy each is not the harness's cost.
      for (const sandbox of sandboxes) {
        await workspace.disposeHarness(sandbox)
        if (sandbox.record.init?.status !== 'success') {
          throw new Error(`scale ${count} (${name}): Init ended ${sandbox.record.init?.status ?? 'without a record'}`)
        }
      }
      return ms
    },
  }
}

export async function scaleSuite(context: SuiteContext): Promise<Figure[]> {
  const { config, workspace } = context
  const spec = workspace.baselineSpec(config.python, 0)
  const command = await harnessBwrapCommand(context, 0)
  const sides: Side[] = [
    harnessSide(workspace, 'plain', workspace.bootOptions(config.python, 0, 'none')),
    {
      name: 'direct',
      times: [],
      run: async (count) => {
        const { ms, value: sandboxes } = await many(count, async () => {
          const sandbox = await BaselineSandbox.boot(spec)
          await sandbox.shutdown()
          await sandbox.dispose()
          return sandbox
        })
        for (const sandbox of sandboxes) {
          await workspace.disposeBaseline(sandbox)
        }
        return ms
      },
    },
  ]
  if (command !== undefined) {
    sides.push(harnessSide(workspace, 'isolated', workspace.bootOptions(config.python, 0, config.isolation)), {
      name: 'bwrap floor',
      times: [],
      run: async (count) => {
        const { ms, value: floors } = await many(count, async () => {
          const floor = await BwrapFloor.boot(command, spec)
          await floor.shutdown()
          return floor
        })
        for (const floor of floors) {
          workspace.assertGone(floor.pids)
        }
        return ms
      },
    })
  }
  const figures: Figure[] = []
  for (const count of config.scaleCounts) {
    for (const side of sides) {
      side.times.length = 0
    }
    for (let run = 0; run < config.scaleRuns; run++) {
      context.progress(`scale ${count} sandbox${count === 1 ? '' : 'es'}: run ${run + 1}/${config.scaleRuns}`)
      for (const side of rotated(sides, run)) {
        side.times.push(await side.run(count))
      }
    }
    const times = (name: Side['name']) => [...(sides.find((side) => side.name === name)?.times ?? [])]
    figures.push(...scaleFigures(count, times, command !== undefined))
  }
  return figures
}

/** One count's rows: isolated against the bwrap floor and against direct (when the harness isolates), plain against direct. */
function scaleFigures(count: number, times: (name: Side['name']) => number[], isolated: boolean): Figure[] {
  const name = `${count} sandbox${count === 1 ? '' : 'es'} booted + shut down concurrently`
  // Issue #20 sets targets for 50 only; the smaller counts are for information.
  const target = count === 50 ? { target: ratioTarget(1.15) } : {}
  const figures: Figure[] = []
  if (isolated) {
    figures.push(
      figure({
        suite: 'scale',
        name,
        unit: 'ms',
        harness: times('isolated'),
        baseline: times('direct'),
        note: 'wall time, runtime only; isolated (bwrap) against the processes started directly: what the sandbox costs in all',
      }),
      figure({
        suite: 'scale',
        name: `${name}, isolated vs the bwrap floor`,
        unit: 'ms',
        harness: times('isolated'),
        baseline: times('bwrap floor'),
        ...target,
        note: "baseline: N bare bwraps with the harness's own command line, each holder starting the same runtime against the trivial server inside, SIGKILLing it and reaping it, then pid 1",
      }),
    )
  }
  figures.push(
    figure({
      suite: 'scale',
      name: `${name}, plain mode`,
      unit: 'ms',
      harness: times('plain'),
      baseline: times('direct'),
      ...target,
      note: 'wall time, runtime only; isolation "none" against the same processes started directly',
    }),
  )
  return figures
}
