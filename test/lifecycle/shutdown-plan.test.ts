import t from 'tap'
import { planShutdown } from '../../harness/lifecycle/shutdown-plan.js'
import { cleanErrorType, describeExit } from '../../harness/lifecycle/error-types.js'

t.test('shutdown windows and the runtime share (LAMBDA-SPEC §3.3)', async (t) => {
  t.same(planShutdown({ externals: 0, internals: 0, runtimeShutdownMs: undefined }), { windowMs: 0, runtimeShareMs: 0, sigterm: false })
  t.same(planShutdown({ externals: 0, internals: 1, runtimeShutdownMs: undefined }), { windowMs: 500, runtimeShareMs: 500, sigterm: true })
  t.same(planShutdown({ externals: 2, internals: 0, runtimeShutdownMs: undefined }), { windowMs: 2000, runtimeShareMs: 300, sigterm: true })
  t.same(planShutdown({ externals: 1, internals: 1, runtimeShutdownMs: undefined }), { windowMs: 2000, runtimeShareMs: 500, sigterm: true })
  t.same(planShutdown({ externals: 1, internals: 0, runtimeShutdownMs: 600 }), { windowMs: 2000, runtimeShareMs: 600, sigterm: true })
  t.same(planShutdown({ externals: 0, internals: 1, runtimeShutdownMs: 1500 }), { windowMs: 500, runtimeShareMs: 500, sigterm: true })
})

t.test('error types are cleaned as RAPID does', async (t) => {
  t.equal(cleanErrorType(undefined), 'Runtime.Unknown')
  t.equal(cleanErrorType('KeyError'), 'Runtime.Unknown')
  t.equal(cleanErrorType('Runtime.ImportModuleError'), 'Runtime.ImportModuleError')
  t.equal(cleanErrorType('Function.MyError'), 'Function.MyError')
  t.equal(cleanErrorType('Function.lower'), 'Function.Unknown')
  t.equal(cleanErrorType('xRuntime.Foo'), 'xRuntime.Foo', 'unanchored, as regexp.MatchString')
})

t.test('exits are worded as Go does', async (t) => {
  t.equal(describeExit(1, null), 'exit status 1')
  t.equal(describeExit(null, 'SIGKILL'), 'signal: killed')
})
