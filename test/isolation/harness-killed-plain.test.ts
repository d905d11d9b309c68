// Plain mode (isolation "none") has no PID namespace to die with the harness; there each process
// starts through the launcher (enter.c), a child subreaper that learns of the
// harness's death by PR_SET_PDEATHSIG and SIGKILLs its whole tree, double-forked setsid daemons
// included (they re-parent to it, not to init). A SIGKILLed harness runs no exit hook, yet leaves
// nothing, and the next run on the machine boots, invokes and shuts down as usual.
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { readdirSync, readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import { extensionsDir, fn, startSandbox, until } from '../helpers.js'
import { holdSandbox, parentOf } from './processes.js'

/** Live processes whose environment holds `variable` (the sandbox's own mark, inherited by whatever it forks). */
function marked(variable: string): number[] {
  const found: number[] = []
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(variable) && parentOf(Number(entry)) !== undefined) {
        found.push(Number(entry))
      }
    } catch {
      // Gone while we looked, or not ours to read.
    }
  }
  return found
}

/**
 * Boots a plain sandbox in a harness process, checks who runs under whom, kills the harness with
 * `signal` and checks that nothing of the sandbox is left; resolves with the marker it used.
 */
async function killHarness(t: Test, signal: NodeJS.Signals): Promise<string> {
  const marker = `lh-killed-plain-${randomUUID()}`
  const variable = `LH_TEST_MARKER=${marker}`
  const { holder, pids } = await holdSandbox(t, [extensionsDir(t, ['double-forks-daemon']), 'none', marker])
  const { runtime, daemon } = pids
  const extension = pids['double-forks-daemon']
  t.ok(runtime !== undefined && extension !== undefined && daemon !== undefined, `the holder reported runtime, extension and daemon: ${JSON.stringify(pids)}`)
  const launchers = [runtime!, extension!].map(parentOf)
  t.same(
    launchers.map((launcher) => parentOf(launcher!)),
    [holder.pid, holder.pid],
    'the runtime and the extension each run under a launcher, a child of the harness',
  )
  t.equal(parentOf(daemon!), launchers[1], 'the double-forked daemon was adopted by the extension\'s launcher, not by init')
  const before = marked(variable)
  const known = [runtime!, extension!, daemon!, ...launchers.map(Number)]
  t.same([...before].sort(), [...known].sort(), `the marked processes are exactly the two launchers, the runtime, the extension and the daemon: ${before.join(', ')}`)

  holder.kill(signal)
  await once(holder, 'exit')
  const alive = () => [...new Set([...known, ...marked(variable)])].filter((pid) => parentOf(pid) !== undefined)
  t.ok(await until(() => alive().length === 0, 10_000), 'all of them are gone within 10 s')
  t.same(alive(), [], 'nothing is left, by the reported pids or by the marker (count after: 0)')
  return marker
}

t.test('plain mode: a SIGKILLed harness leaves no process, not a daemon, not a launcher; the next run is unaffected', async (t) => {
  const marker = await killHarness(t, 'SIGKILL')
  const variable = `LH_TEST_MARKER=${marker}`

  // The next run on the same machine, in the same test: boots, invokes and shuts down cleanly.
  const next = await startSandbox(t, { functionDir: fn('echo'), isolation: 'none', extensionsDir: extensionsDir(t, ['well-behaved']), env: { LH_TEST_MARKER: marker } })
  const result = await next.invoke({ after: 'the kill' })
  t.equal(result.status, 'success')
  t.same(JSON.parse(result.response), { after: 'the kill' })
  t.equal(marked(variable).length, 4, 'it runs its own two processes, each under its launcher')
  await next.shutdown()
  t.same(next.record.verdict, { clean: true, problems: [] }, 'its record is clean')
  t.ok(await until(() => marked(variable).length === 0, 5000), 'and it leaves nothing either')
})

t.test('plain mode: a harness ended by SIGTERM (its exit hook runs) leaves nothing either', async (t) => {
  await killHarness(t, 'SIGTERM')
})
