// Boot is a sequence of named steps, each undone when a later one fails (sandbox/boot-steps.ts):
// the runner's order, and a real boot whose probe fails after its sandbox started leaves nothing.
import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import { boot } from '../../harness/index.js'
import { runSteps } from '../../harness/sandbox/boot-steps.js'
import { PYTHON, fn, tempDir, until } from '../helpers.js'

t.test('a failing step undoes the steps before it in reverse, its side-by-side siblings included', async (t) => {
  const log: string[] = []
  const step = (name: string, fails = false) => ({
    name,
    run: async () => {
      log.push(`run ${name}`)
      if (fails) {
        throw new Error(`${name} failed`)
      }
    },
    undo: () => log.push(`undo ${name}`),
  })
  await t.rejects(runSteps([step('a'), [step('b'), step('c', true)], step('d')]), { message: 'c failed' })
  t.same(log, ['run a', 'run b', 'run c', 'undo b', 'undo a'], 'd never ran; b (beside c) and a were undone, last first')
  log.length = 0
  await runSteps([step('a'), [step('b'), step('c')]])
  t.same(log, ['run a', 'run b', 'run c'], 'nothing is undone when every step succeeds')
})

/** This process's children that are bwrap (the host side of a sandbox). */
function bwrapChildren(): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        return Number(fields[1]) === process.pid && stat.includes('(bwrap)') && fields[0] !== 'Z'
      } catch {
        return false
      }
    })
    .map(Number)
}

t.test('a probe that fails once the sandbox started: boot throws the probe\'s error and the sandbox is gone', async (t) => {
  const before = bwrapChildren()
  const noPostgres = tempDir(t, 'lh-no-postgres-')
  await t.rejects(
    boot({ functionDir: fn('echo'), handler: 'app.handler', python: PYTHON, postgres: true, postgresBinDir: noPostgres }),
    { code: 'ERR_PROBE_FAILED' },
  )
  t.ok(await until(() => bwrapChildren().filter((pid) => !before.includes(pid)).length === 0), 'no sandbox of the failed boot is left')
})
