// A function that holds more than 1,023 files open from import on: the runtime client's wait for
// /next (3.12+) must not depend on its own fds being below select()'s limit. It used select()
// for a few commits: the first /next raised "filedescriptor out of range" and the runtime exited.
import t from 'tap'
import { fn, startSandbox } from '../helpers.js'

for (const isolation of ['auto', 'none'] as const) {
  t.test(`a function holding 1,100 files open invokes and shuts down (${isolation === 'none' ? 'plain' : 'isolated'})`, async (t) => {
    const sandbox = await startSandbox(t, { functionDir: fn('opens-many-files'), isolation })
    for (const n of [1, 2]) {
      const invocation = await sandbox.invoke({ n })
      t.equal(invocation.status, 'success', `invoke ${n}: ${invocation.response}`)
      const highest = (JSON.parse(invocation.response) as { highest: number }).highest
      // The machine's hard fd limit may keep the function below 1,024: then there is nothing to prove.
      t.ok(highest >= 1024, `the function holds fds up to ${highest}`, { skip: highest < 1024 ? `the hard fd limit stopped it at fd ${highest}` : false })
    }
    await sandbox.shutdown()
    t.equal(sandbox.record.verdict.clean, true, JSON.stringify(sandbox.record.verdict.problems))
  })
}
