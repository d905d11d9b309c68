// The record's processes[].state after they exit: Lambda's name for an exited process (RIE
// core/agent_state_names.go: Exited), never the last API state of a process that is gone.
import t from 'tap'
import { extensionsDir, fn, startSandbox } from '../helpers.js'

t.test('a runtime that exits 0 on SIGTERM is Exited, not Ready', async (t) => {
  const sandbox = await startSandbox(t, { functionDir: fn('sigterm-handler'), extensionsDir: extensionsDir(t, ['well-behaved']) })
  await sandbox.invoke({})
  await sandbox.shutdown({ reason: 'spindown' })
  const runtime = sandbox.record.processes.find((p) => p.kind === 'runtime')
  t.same(runtime?.exit, { code: 0, signal: null })
  t.equal(runtime?.killed, false)
  t.equal(runtime?.state, 'Exited')
  t.equal(sandbox.record.processes.find((p) => p.name === 'well-behaved')?.state, 'Exited')
})
