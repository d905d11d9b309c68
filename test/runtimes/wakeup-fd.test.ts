// The runtime client's /next wait (3.12+) borrows the process's signal wakeup fd and must give it
// back: a function whose asyncio loop added a signal handler at import (add_signal_handler sets
// the wakeup fd to the loop's own pipe) still has its signals reach the loop, including one that
// came while the runtime waited for /next, as under awslambdaric, which never touches the fd.
// Before the fd was borrowed only for the wait, the loop never saw a signal again after the
// first /next and every invoke of this fixture timed out.
import t from 'tap'
import { fn, startSandbox } from '../helpers.js'

t.test('an asyncio loop with a signal handler keeps getting its signals', async (t) => {
  const sandbox = await startSandbox(t, { functionDir: fn('asyncio-signals'), isolation: 'none' })
  const seen = async (label: string) => {
    const invocation = await sandbox.invoke({})
    t.equal(invocation.status, 'success', `${label}: ${invocation.response}`)
    return JSON.parse(invocation.response) as { seen: number; timeout: boolean }
  }
  t.same(await seen('invoke 1'), { seen: 1, timeout: false }, 'the signal the handler sent itself reached the loop')
  t.same(await seen('invoke 2'), { seen: 2, timeout: false })
  // Now the runtime waits for /next: a SIGUSR1 from outside lands in that wait.
  const runtime = sandbox.record.processes.find((p) => p.name === 'runtime' && p.exit === null)
  t.ok(runtime?.pid !== undefined && runtime.pid !== null, 'the runtime is running')
  process.kill(runtime!.pid!, 'SIGUSR1')
  t.same(await seen('invoke 3'), { seen: 4, timeout: false }, 'the signal that came during /next reached the loop too (handed on), then its own')
  await sandbox.shutdown()
})
