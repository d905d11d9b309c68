// `check` on an extension that listens on a fixed port, as AWS's Logs and Telemetry API samples do
// (sandbox:4243), and a Runtime API proxy's 9009: the runner runs three scenarios at once, and
// each sandbox's own network gives every one of them its own 4243 (issue 16: on a shared loopback
// two of three failed with EADDRINUSE).
import t from 'tap'
import { findExecutable } from '../../harness/isolation/launcher.js'
import { check, failsExactly, fixture } from './suite.js'

// Plain processes share the host's loopback, as plain mode's warning says: only a sandbox has a 4243 of its own.
t.test('an extension on fixed ports passes every check, three scenarios at a time', { skip: findExecutable('bwrap') === undefined && 'no bwrap: plain processes share one loopback' }, async (t) => {
  const report = await check(t, fixture('binds-fixed-ports'), { isolation: 'bwrap' })
  failsExactly(t, report, [])
  for (const scenario of report.scenarios) {
    const bound = scenario.record.timeline.some((e) => e.process === 'binds-fixed-ports' && e.detail === 'binds-fixed-ports listening on 4243 and 9009')
    t.ok(bound, `${scenario.name}: the extension bound both ports`)
  }
})
