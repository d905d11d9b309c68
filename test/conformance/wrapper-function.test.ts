// `check --function` with a function that uses a wrapper script: the Runtime API proxy layer
// checked with the user's function and AWS_LAMBDA_EXEC_WRAPPER passes, and each scenario's record
// shows the runtime's calls going through the proxy.
import path from 'node:path'
import t from 'tap'
import { ROOT, fn } from '../helpers.js'
import { check, failsExactly } from './suite.js'

t.test('check --function accepts a function whose wrapper points the runtime at a Runtime API proxy', async (t) => {
  const report = await check(t, path.join(ROOT, 'fixtures', 'layers', 'runtime-api-proxy'), {
    functionDir: fn('echo'),
    handler: 'app.handler',
    env: { AWS_LAMBDA_EXEC_WRAPPER: '/opt/proxy-wrapper' },
    only: ['invoke', 'shutdown-spindown', 'shutdown-failure'],
    // Every sandbox's proxy listens on 127.0.0.1:9009: one scenario at a time while sandboxes share the host's network.
    jobs: 1,
  })
  failsExactly(t, report, [])
  t.same(report.target.extensions, ['runtime-api-proxy'])
  for (const scenario of report.scenarios) {
    const proxied = scenario.record.timeline.filter((e) => e.process === 'runtime-api-proxy' && /^\[runtime-api-proxy\] (GET|POST) \/2018-06-01\/runtime\//.test(e.detail))
    // The API sees the proxy's connections: the record names it as the caller of what it forwarded.
    const direct = scenario.record.timeline.filter((e) => e.kind === 'api' && e.process === 'runtime-api-proxy' && e.detail.startsWith('POST /2018-06-01/runtime/invocation/'))
    t.ok(proxied.length > 0, `${scenario.name}: the runtime's calls went through the proxy (${proxied.length} logged)`)
    t.equal(proxied.filter((e) => e.detail.includes(' POST ')).length, direct.length, `${scenario.name}: every answer posted came from the proxy`)
  }
})
