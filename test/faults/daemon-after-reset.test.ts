// Faults (issue 16, item 5): a daemon that outlives a reset. The last invoke timed out, so the
// sandbox reset (its process groups SIGKILLed) and no generation runs at the final Shutdown; but
// the runtime or an extension had double-forked a setsid daemon, which the group's SIGKILL missed.
// The final Shutdown reports it as an orphan of the process that started it (not "nothing was
// running") and kills it, with bwrap isolation and with plain processes.
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import type { RunRecord } from '../../harness/index.js'
import { isLive } from '../../harness/supervisor/process-groups.js'
import { FUNCTIONS, extensionsDir, fn, startSandbox, until, NO_BWRAP } from '../helpers.js'
import { membersOf, pidNamespaceOf } from '../isolation/processes.js'

t.jobs = 2

/** A function that starts a daemon (fixtures/functions/forks-daemon's daemon.py), prints its pid, then runs past its timeout. */
function daemonThenTimeout(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'lh-fn-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const lib = path.join(FUNCTIONS, 'forks-daemon')
  writeFileSync(
    path.join(dir, 'app.py'),
    `import sys, time\nsys.path.insert(0, ${JSON.stringify(lib)})\nfrom daemon import daemonize\n\ndef handler(event, context):\n    print("daemon", daemonize(), flush=True)\n    time.sleep(60)\n`,
  )
  return dir
}

for (const isolation of ['bwrap', 'none'] as const) {
  for (const forker of ['runtime', 'double-forks-daemon'] as const) {
    t.test(`${isolation}: a daemon the ${forker} forked outlives a timeout's reset: the final Shutdown reports it as ${forker}'s and kills it`, { skip: isolation === 'bwrap' && NO_BWRAP }, async (t) => {
      const sandbox = await startSandbox(t, {
        functionDir: forker === 'runtime' ? daemonThenTimeout(t) : fn('sleeps'),
        extensionsDir: extensionsDir(t, forker === 'runtime' ? ['well-behaved'] : ['double-forks-daemon']),
        timeoutSec: 1,
        isolation,
      })
      // The runtime forks its daemon in the invoke that times out; the extension at its start.
      const invoked = await sandbox.invoke({ seconds: 30 })
      t.equal(invoked.status, 'timeout', 'the invoke timed out')
      t.equal(invoked.resetReason, 'timeout', 'and reset the sandbox')
      const prefix = forker === 'runtime' ? 'daemon ' : 'double-forks-daemon daemon '
      t.ok(await until(() => daemonLine(sandbox.record, forker, prefix) !== undefined), 'the forker printed its daemon\'s pid')
      const printed = Number(daemonLine(sandbox.record, forker, prefix)!.slice(prefix.length))
      // Its PID namespace (bwrap): the sandbox's pid 1, whose descendants it is.
      const namespace = isolation === 'none' ? undefined : pidNamespaceOf(sandboxInit(sandbox.record))
      const find = () => (namespace === undefined ? (isLive(printed) ? printed : undefined) : hostPidOf(printed, namespace))
      await until(() => find() !== undefined)
      const daemon = find()
      t.ok(daemon !== undefined && isLive(daemon), `the daemon outlived the reset (host pid ${daemon})`)

      const shutdown = await sandbox.shutdown()
      const record = sandbox.record
      t.same(shutdown.orphans, [{ group: forker, pids: [daemon] }], `the daemon is an orphan of ${forker}`)
      t.ok(
        record.verdict.problems.some((p) => p.code === 'orphan-processes' && p.process === forker && new RegExp(`pids ${daemon}\\b`).test(p.message)),
        'the verdict names it',
      )
      t.ok(record.timeline.some((e) => e.kind === 'signal' && e.process === forker && e.detail === `SIGKILL to pid ${daemon}, left running after the last reset (started in generation 0)`))
      t.notOk(record.timeline.some((e) => e.detail.includes('nothing was running after the last reset')), 'the record does not say nothing was running')
      t.ok(await until(() => !isLive(daemon!), 2000), 'the daemon is dead once Shutdown returns')
    })
  }
}

t.test('none: after a reset with no daemon, the final Shutdown still says nothing was running', async (t) => {
  const sandbox = await startSandbox(t, { functionDir: fn('sleeps'), timeoutSec: 1, isolation: 'none' })
  t.equal((await sandbox.invoke({ seconds: 30 })).resetReason, 'timeout')
  const shutdown = await sandbox.shutdown()
  t.same(shutdown.orphans, [])
  t.ok(sandbox.record.timeline.some((e) => e.detail === 'Shutdown (reason spindown): nothing was running after the last reset'))
})

/** The host pid of the sandbox's pid 1, from the record's description of the sandbox. */
function sandboxInit(record: RunRecord): number {
  const description = record.timeline.find((e) => e.kind === 'phase' && e.detail.startsWith('Sandbox: bwrap'))?.detail ?? ''
  return Number(/pid 1 is host pid (\d+)/.exec(description)?.[1])
}

function daemonLine(record: RunRecord, process: string, prefix: string): string | undefined {
  return record.timeline.find((e) => e.kind === 'output' && e.process === process && e.detail.startsWith(prefix))?.detail
}

/** The host pid of the `sleep` whose pid in `namespace` (NSpid's last field) is `pid`. */
function hostPidOf(pid: number, namespace: string): number | undefined {
  return membersOf(namespace).find((entry) => {
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8')
      return /^Name:\s+sleep$/m.test(status) && /^NSpid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/).at(-1) === String(pid)
    } catch {
      return false
    }
  })
}
