// The timeline records who really made each Runtime API call (issue 16, item 5): a call from an
// extension to /runtime/… is the extension's, found by its connection, not the runtime's; the
// runtime's own calls stay the runtime's. Both isolation modes.
import t from 'tap'
import { extensionsDir, fn, startSandbox, until, NO_BWRAP } from '../helpers.js'

for (const isolation of ['bwrap', 'none'] as const) {
  t.test(`${isolation}: an extension's call to the Runtime API is recorded as the extension's`, { skip: isolation === 'bwrap' && NO_BWRAP }, async (t) => {
    const sandbox = await startSandbox(t, { functionDir: fn('echo'), extensionsDir: extensionsDir(t, ['calls-runtime-api']), isolation })
    t.equal((await sandbox.invoke({ hello: 1 })).status, 'success', 'the invoke is answered by the runtime')
    t.ok(await until(() => sandbox.record.timeline.some((e) => e.kind === 'output' && e.detail.startsWith('calls-runtime-api posted'))), 'the extension made its call')
    const api = sandbox.record.timeline.filter((e) => e.kind === 'api')
    const posted = api.find((e) => e.detail.startsWith('POST /2018-06-01/runtime/invocation/not-a-request/response'))
    t.equal(posted?.process, 'calls-runtime-api', `the call is the extension's: ${JSON.stringify(posted)}`)
    const runtimeCalls = api.filter((e) => e.detail.includes('/2018-06-01/runtime/') && e !== posted)
    t.ok(runtimeCalls.length >= 2, 'the runtime\'s own calls are there')
    t.same([...new Set(runtimeCalls.map((e) => e.process))], ['runtime'], 'and are the runtime\'s')
  })
}
