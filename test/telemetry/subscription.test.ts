// Subscribe bodies of the Telemetry API 2022-07-01 and the Logs API 2020-08-15, validated as
// LAMBDA-SPEC §4.1 and §4.3 say: schema versions, types, buffering ranges and defaults, the HTTP
// destination on sandbox.localdomain (or sandbox) with a port, TCP destinations.
import t, { type Test } from 'tap'
import { statusOf } from '../../harness/api/statuses.js'
import { http } from '../lifecycle/rejections.js'
import { isRejection } from '../../harness/lifecycle/error-types.js'
import { parseSubscription, type Subscription, type SubscriptionApi } from '../../harness/telemetry/subscription.js'

const DEFAULTS = { maxItems: 1000 }
const HTTP = { protocol: 'HTTP', URI: 'http://sandbox.localdomain:4243/telemetry' }

function parse(api: SubscriptionApi, body: unknown, defaults = DEFAULTS) {
  return parseSubscription(api, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), defaults)
}

function ok(t: Test, result: ReturnType<typeof parse>): Subscription {
  if (isRejection(result)) {
    t.fail(`rejected: ${result.errorMessage}`)
    throw new Error(result.errorMessage)
  }
  return result
}

t.test('a full Telemetry subscription, and the defaults of what it leaves out', async (t) => {
  const full = ok(t, parse('telemetry', { schemaVersion: '2022-12-13', types: ['platform', 'function'], buffering: { maxItems: 2000, maxBytes: 300000, timeoutMs: 100 }, destination: HTTP }))
  t.same(full, {
    api: 'telemetry',
    schemaVersion: '2022-12-13',
    types: ['platform', 'function'],
    buffering: { maxItems: 2000, maxBytes: 300000, timeoutMs: 100 },
    destination: { protocol: 'HTTP', uri: HTTP.URI, authority: 'sandbox.localdomain:4243', port: 4243, path: '/telemetry', method: 'POST' },
  })
  const bare = ok(t, parse('telemetry', { schemaVersion: '2022-07-01', types: ['extension'], destination: { protocol: 'HTTP', URI: 'http://sandbox:8080' } }))
  t.same(bare.buffering, { maxItems: 1000, maxBytes: 262144, timeoutMs: 1000 }, 'maxItems defaults to the stricter 1000')
  t.equal(bare.destination.protocol === 'HTTP' && bare.destination.path, '/', 'a URI without a path posts to /')
  t.equal(bare.destination.protocol === 'HTTP' && bare.destination.authority, 'sandbox:8080', '`sandbox`, as AWS samples write it, is accepted')
  const lax = ok(t, parse('telemetry', { schemaVersion: '2025-01-29', types: ['platform'], destination: HTTP }, { maxItems: 10000 }))
  t.equal(lax.buffering.maxItems, 10000, 'the other reading of the default is an option')
})

t.test('the Logs API: schemaVersion optional (2020-08-15), 2021-03-18 accepted', async (t) => {
  t.equal(ok(t, parse('logs', { types: ['platform'], destination: HTTP })).schemaVersion, '2020-08-15')
  t.equal(ok(t, parse('logs', { schemaVersion: '2021-03-18', types: ['platform'], destination: HTTP })).schemaVersion, '2021-03-18')
  t.same(http(parse('logs', { schemaVersion: '2022-07-01', types: ['platform'], destination: HTTP })), {
    status: 400,
    errorType: 'Logs.ValidationError',
    errorMessage: 'schemaVersion should be one of 2020-08-15, 2021-03-18',
  })
})

t.test('TCP destinations: the LMI `port` form, or a URI with a port', async (t) => {
  t.same(ok(t, parse('telemetry', { schemaVersion: '2022-12-13', types: ['function'], destination: { protocol: 'TCP', port: 4244 } })).destination, {
    protocol: 'TCP',
    port: 4244,
  })
  t.same(ok(t, parse('logs', { types: ['function'], destination: { protocol: 'TCP', URI: 'tcp://sandbox.localdomain:4245' } })).destination, {
    protocol: 'TCP',
    port: 4245,
  })
})

t.test('every validation error is a 400 ValidationError naming what is wrong', async (t) => {
  const base = { schemaVersion: '2022-12-13', types: ['platform'], destination: HTTP }
  const cases: [string, unknown, string][] = [
    ['Lambda\'s own example', { schemaVersion: '2022-12-13', types: [], destination: { protocol: 'HTTP', URI: 'http://sandbox.localdomain' } }, 'URI port is not provided; types should not be empty'],
    ['no schemaVersion', { ...base, schemaVersion: undefined }, 'schemaVersion should be one of 2022-07-01, 2022-12-13, 2025-01-29'],
    ['a Logs API version', { ...base, schemaVersion: '2021-03-18' }, 'schemaVersion should be one of 2022-07-01, 2022-12-13, 2025-01-29'],
    ['no types', { ...base, types: undefined }, 'types should not be empty'],
    ['an unknown type', { ...base, types: ['platform', 'logs'] }, 'types should be a subset of platform, function, extension: got "logs"'],
    ['a repeated type', { ...base, types: ['function', 'function'] }, 'types should be unique'],
    ['types not a list', { ...base, types: 'platform' }, 'types should be a list of strings'],
    ['maxItems under 1000', { ...base, buffering: { maxItems: 999 } }, 'maxItems should be an integer between 1000 and 10000'],
    ['maxItems over 10000', { ...base, buffering: { maxItems: 10001 } }, 'maxItems should be an integer between 1000 and 10000'],
    ['maxBytes under 262144', { ...base, buffering: { maxBytes: 1024 } }, 'maxBytes should be an integer between 262144 and 1048576'],
    ['timeoutMs under 25', { ...base, buffering: { timeoutMs: 24 } }, 'timeoutMs should be an integer between 25 and 30000'],
    ['timeoutMs over 30000', { ...base, buffering: { timeoutMs: 30001 } }, 'timeoutMs should be an integer between 25 and 30000'],
    ['timeoutMs not an integer', { ...base, buffering: { timeoutMs: 25.5 } }, 'timeoutMs should be an integer between 25 and 30000'],
    ['buffering not an object', { ...base, buffering: 5 }, 'buffering should be an object'],
    ['no destination', { ...base, destination: undefined }, 'destination should be an object with protocol and URI'],
    ['another protocol', { ...base, destination: { protocol: 'HTTPS', URI: 'https://sandbox.localdomain:1/' } }, 'destination protocol should be HTTP or TCP'],
    ['no URI', { ...base, destination: { protocol: 'HTTP' } }, 'URI is not provided'],
    ['https', { ...base, destination: { protocol: 'HTTP', URI: 'https://sandbox.localdomain:443/' } }, 'URI scheme should be http'],
    ['another host', { ...base, destination: { protocol: 'HTTP', URI: 'http://example.com:80/' } }, 'URI host should be sandbox.localdomain (got "example.com")'],
    ['localhost is another host', { ...base, destination: { protocol: 'HTTP', URI: 'http://127.0.0.1:8080/' } }, 'URI host should be sandbox.localdomain (got "127.0.0.1")'],
    ['no port', { ...base, destination: { protocol: 'HTTP', URI: 'http://sandbox.localdomain/x' } }, 'URI port is not provided'],
    ['port 9001', { ...base, destination: { protocol: 'HTTP', URI: 'http://sandbox.localdomain:9001/' } }, 'port 9001 is reserved'],
    ['port out of range', { ...base, destination: { protocol: 'HTTP', URI: 'http://sandbox.localdomain:70000/' } }, 'URI port should be between 1 and 65535'],
    ['credentials in the URI', { ...base, destination: { protocol: 'HTTP', URI: 'http://u:p@sandbox.localdomain:80/' } }, 'URI is not valid: "http://u:p@sandbox.localdomain:80/"'],
    ['a method Lambda does not use', { ...base, destination: { ...HTTP, method: 'GET' } }, 'destination method should be POST or PUT'],
    ['TCP without a port', { ...base, destination: { protocol: 'TCP' } }, 'port is not provided'],
    ['TCP port 0', { ...base, destination: { protocol: 'TCP', port: 0 } }, 'port should be an integer between 1 and 65535'],
    ['not JSON', '{"types": [', 'request body is not valid JSON: '],
    ['not an object', '[1]', 'request body should be a JSON object'],
  ]
  for (const [what, body, message] of cases) {
    const result = parse('telemetry', body)
    t.equal(isRejection(result) && statusOf(result), 400, `${what}: 400`)
    t.equal(isRejection(result) && result.errorType, 'ValidationError', `${what}: ValidationError`)
    if (message.endsWith(': ')) {
      t.match(isRejection(result) && result.errorMessage, new RegExp(`^${message}`), `${what}: ${message}…`)
    } else {
      t.equal(isRejection(result) && result.errorMessage, message, `${what}: ${message}`)
    }
  }
  const logs = parse('logs', { types: [], destination: HTTP })
  t.same(http(logs), { status: 400, errorType: 'Logs.ValidationError', errorMessage: 'types should not be empty' }, 'the Logs API says Logs.ValidationError')
})

t.test('an explicit default port is still a port (WHATWG URL would drop ":80")', async (t) => {
  const result = ok(t, parse('telemetry', { schemaVersion: '2022-12-13', types: ['platform'], destination: { protocol: 'HTTP', URI: 'http://sandbox.localdomain:80/' } }))
  t.equal(result.destination.port, 80)
})
