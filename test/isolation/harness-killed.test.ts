// A harness that is SIGKILLed runs no exit hook, yet leaves nothing: its death kills the host-side
// bwrap (--die-with-parent), whose death kills the sandbox's pid 1, whose death makes the kernel
// kill everything in the PID namespace, daemons included (the holder that started them too).
import { once } from 'node:events'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import t from 'tap'
import { statFields } from '../../harness/supervisor/process-groups.js'
import { extensionsDir, until, NO_BWRAP } from '../helpers.js'
import { holdSandbox } from './processes.js'

function processes(): { pid: number; ppid: number; namespace: string | undefined }[] {
  const found: { pid: number; ppid: number; namespace: string | undefined }[] = []
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const fields = statFields(readFileSync(`/proc/${entry}/stat`, 'utf8'))
      if (fields[0] === 'Z') {
        continue
      }
      let namespace: string | undefined
      try {
        namespace = readlinkSync(`/proc/${entry}/ns/pid`)
      } catch {
        namespace = undefined
      }
      found.push({ pid: Number(entry), ppid: Number(fields[1]), namespace })
    } catch {
      // Gone while we looked.
    }
  }
  return found
}

t.test('a SIGKILLed harness leaves no process: not the sandbox, not a daemon, not a launcher', { skip: NO_BWRAP }, async (t) => {
  const { holder, pids } = await holdSandbox(t, [extensionsDir(t, ['double-forks-daemon'])])
  const namespace = readlinkSync(`/proc/${pids.runtime}/ns/pid`)
  const before = processes()
  const inSandbox = before.filter((p) => p.namespace === namespace).map((p) => p.pid)
  const children = before.filter((p) => p.ppid === holder.pid).map((p) => p.pid)
  // pid 1 (the holder itself), the runtime, the extension and its daemon.
  const members = 4
  t.equal(inSandbox.length, members, `${members} processes in the sandbox before: ${inSandbox.join(', ')}`)
  t.ok(inSandbox.includes(pids.runtime!) && inSandbox.includes(pids['double-forks-daemon']!))
  // The host-side bwrap.
  const expected = 1
  t.equal(children.length, expected, `the harness has ${expected} children before: ${children.join(', ')}`)

  holder.kill('SIGKILL')
  await once(holder, 'exit')
  // By pid, not by namespace: a namespace's inode number is reused once it is gone.
  const alive = () => processes().filter((p) => inSandbox.includes(p.pid) || children.includes(p.pid))
  t.ok(await until(() => alive().length === 0, 5000), 'all of them are gone')
  t.same(alive(), [], 'nothing is left (count after: 0)')
})
