// The Runtime API is the runtime's. Lambda does not authenticate its callers, and a proxy
// extension (one the function runs through, by a wrapper script named in AWS_LAMBDA_EXEC_WRAPPER)
// calls it on the runtime's behalf; any other extension that calls it takes invocations or
// answers them in the runtime's place. The caller of each call is the timeline's (sandbox/callers.ts).
import type { CheckSpec } from './types.js'

const RUNTIME_API = /^(GET|POST) \/2018-06-01\/runtime\//

export const invokeRuntimeApiOnlyAsProxy: CheckSpec = {
  name: 'runtime-api-only-as-proxy',
  expected: 'it calls the Runtime API (/2018-06-01/runtime/…) only as a proxy the function is configured to run through (AWS_LAMBDA_EXEC_WRAPPER)',
  evaluate(evidence, extension, suite) {
    const calls = evidence.record.timeline.filter((e) => e.kind === 'api' && e.process === extension && RUNTIME_API.test(e.detail))
    if (calls.length === 0) {
      return { outcome: 'pass', summary: 'it made no Runtime API call', data: { runtimeApiCalls: 0 } }
    }
    const first = calls[0]!.detail
    if (suite.execWrapper !== undefined) {
      return {
        outcome: 'pass',
        summary: `${calls.length} Runtime API call(s), as the proxy AWS_LAMBDA_EXEC_WRAPPER=${suite.execWrapper} sets up`,
        data: { runtimeApiCalls: calls.length },
      }
    }
    return {
      outcome: 'fail',
      summary: `it called the Runtime API ${calls.length} time(s) (first: ${first}) without AWS_LAMBDA_EXEC_WRAPPER`,
      happened:
        `\`${extension}\` made ${calls.length} call(s) to the Runtime API, first \`${first}\`, while the function has no AWS_LAMBDA_EXEC_WRAPPER: ` +
        'nothing routes the runtime through it, so its calls take or answer invocations in the runtime\'s place',
      fix:
        'leave the Runtime API to the runtime; if the extension is a Runtime API proxy, ship the wrapper script that points the runtime at it ' +
        '(AWS_LAMBDA_RUNTIME_API=127.0.0.1:<its port>) and set AWS_LAMBDA_EXEC_WRAPPER to it (check --env AWS_LAMBDA_EXEC_WRAPPER=/opt/<wrapper>)',
      data: { runtimeApiCalls: calls.length },
    }
  },
}
