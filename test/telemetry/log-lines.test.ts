// Lambda's own log lines (LAMBDA-SPEC §6), byte for byte: tab-separated fields, 2-decimal
// durations, REPORT's trailing tab, Init Duration on the first invoke after a cold Init only,
// Status/Error Type on failures, INIT_REPORT on failed Inits; and the Logs API record shapes (§4.3).
import { execFile } from 'node:child_process'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { platformLines, reportLine, subscriptionLine } from '../../harness/telemetry/log-lines.js'
import { toLogsApi } from '../../harness/telemetry/logs-api.js'
import { ROOT, PYTHON, extensionsDir, fn, startSandbox } from '../helpers.js'

const ID = '8476a536-e9f4-11e8-9739-2dfe598c3fcd'
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
const MS = '\\d+\\.\\d{2} ms'

t.test('REPORT: each field followed by a tab; Init Duration last; Status and Error Type on failures', async (t) => {
  const metrics = { durationMs: 67.6149, billedDurationMs: 68, memorySizeMB: 128, maxMemoryUsedMB: 64 }
  t.equal(
    reportLine({ requestId: ID, status: 'success', metrics: { ...metrics, initDurationMs: 201.854 } }),
    `REPORT RequestId: ${ID}\tDuration: 67.61 ms\tBilled Duration: 68 ms\tMemory Size: 128 MB\tMax Memory Used: 64 MB\tInit Duration: 201.85 ms\t`,
  )
  t.equal(
    reportLine({ requestId: ID, status: 'timeout', errorType: 'Sandbox.Timeout', metrics }),
    `REPORT RequestId: ${ID}\tDuration: 67.61 ms\tBilled Duration: 68 ms\tMemory Size: 128 MB\tMax Memory Used: 64 MB\tStatus: timeout\t`,
  )
  t.equal(
    reportLine({ requestId: ID, status: 'error', errorType: 'Runtime.ExitError', metrics }),
    `REPORT RequestId: ${ID}\tDuration: 67.61 ms\tBilled Duration: 68 ms\tMemory Size: 128 MB\tMax Memory Used: 64 MB\tStatus: error\tError Type: Runtime.ExitError\t`,
  )
  t.same(platformLines('platform.report', { requestId: ID, status: 'success', metrics }), [`END RequestId: ${ID}`, reportLine({ requestId: ID, status: 'success', metrics })])
})

t.test('INIT_START, EXTENSION, TELEMETRY/LOGS, START, INIT_REPORT', async (t) => {
  t.same(platformLines('platform.initStart', { runtimeVersion: 'python:3.11.v39', runtimeVersionArn: 'arn:aws:lambda:us-east-1::runtime:abc' }), [
    'INIT_START Runtime Version: python:3.11.v39\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:abc',
  ])
  t.same(platformLines('platform.extension', { name: 'ext', state: 'Ready', events: ['INVOKE', 'SHUTDOWN'] }), ['EXTENSION\tName: ext\tState: Ready\tEvents: [INVOKE, SHUTDOWN]'])
  t.equal(subscriptionLine('telemetry', 'ext', 'Subscribed', ['platform', 'function', 'extension']), 'TELEMETRY\tName: ext\tState: Subscribed\tTypes: [Platform, Function, Extension]')
  t.equal(subscriptionLine('logs', 'ext', 'Subscribed', ['platform']), 'LOGS\tName: ext\tState: Subscribed\tTypes: [Platform]')
  t.same(platformLines('platform.start', { requestId: ID, version: '$LATEST' }), [`START RequestId: ${ID} Version: $LATEST`])
  t.same(platformLines('platform.initReport', { phase: 'init', status: 'success', metrics: { durationMs: 5 } }), [], 'no INIT_REPORT for an on-demand Init that succeeded')
  t.same(platformLines('platform.initReport', { phase: 'init', status: 'timeout', errorType: 'Sandbox.Timeout', metrics: { durationMs: 1236.04 } }), [
    'INIT_REPORT Init Duration: 1236.04 ms\tPhase: init\tStatus: timeout',
  ])
  t.same(platformLines('platform.initReport', { phase: 'invoke', status: 'error', errorType: 'Extension.Crash', metrics: { durationMs: 1236.04 } }), [
    'INIT_REPORT Init Duration: 1236.04 ms\tPhase: invoke\tStatus: error\tError Type: Extension.Crash',
  ])
})

t.test('Logs API shapes: start, end, report, fault, runtimeDone by schema, logsSubscription', async (t) => {
  const time = '2020-08-20T12:31:32.123Z'
  const report = { requestId: ID, status: 'error', errorType: 'Runtime.ExitError', metrics: { durationMs: 1, billedDurationMs: 1, memorySizeMB: 128, maxMemoryUsedMB: 9, initDurationMs: 2 }, spans: [] }
  t.same(toLogsApi({ time, type: 'platform.report', record: report }, '2020-08-15'), [
    { time, type: 'platform.fault', record: `RequestId: ${ID} Status: error\tErrorType: Runtime.ExitError` },
    { time, type: 'platform.end', record: { requestId: ID } },
    { time, type: 'platform.report', record: { requestId: ID, metrics: report.metrics } },
  ])
  const handled = { ...report, errorType: 'Runtime.Unknown' }
  t.same(toLogsApi({ time, type: 'platform.report', record: handled }, '2020-08-15').map((e) => e.type), ['platform.end', 'platform.report'], 'a function error is no fault')
  const done = { time, type: 'platform.runtimeDone', record: { requestId: ID, status: 'error', metrics: { durationMs: 1 } } }
  t.same(toLogsApi(done, '2020-08-15'), [], 'runtimeDone only from schema 2021-03-18')
  t.same(toLogsApi(done, '2021-03-18'), [{ time, type: 'platform.runtimeDone', record: { requestId: ID, status: 'failure' } }])
  t.same(toLogsApi({ time, type: 'platform.telemetrySubscription', record: { name: 'x', state: 'Subscribed', types: ['platform'] } }, '2020-08-15'), [
    { time, type: 'platform.logsSubscription', record: { name: 'x', state: 'Subscribed', types: ['platform'] } },
  ])
  t.same(toLogsApi({ time, type: 'platform.initStart', record: {} }, '2021-03-18'), [], 'no init events in the Logs API')
  t.same(toLogsApi({ time, type: 'function', record: 'hello\n' }, '2020-08-15'), [{ time, type: 'function', record: 'hello\n' }])
})

t.test('a real run: the lines of a cold start, a warm invoke and a crash, in order', async (t) => {
  const sandbox = await startSandbox(t, {
    functionDir: fn('prints-lines'),
    extensionsDir: extensionsDir(t, ['telemetry-recorder', 'well-behaved']),
    memoryMB: 256,
  })
  await sandbox.invoke({ lines: 1 })
  await sandbox.invoke({ lines: 1 })
  const crashed = await sandbox.invoke({ exit: 3 })
  t.equal(crashed.errorType, 'Runtime.ExitError')
  await sandbox.shutdown()
  const logs = sandbox.record.logs
  const invoke = (report: string) => [`START RequestId: ${UUID} Version: \\$LATEST`, `END RequestId: ${UUID}`, `REPORT RequestId: ${UUID}\\t${report}`]
  const memory = `Duration: ${MS}\\tBilled Duration: \\d+ ms\\tMemory Size: 256 MB\\tMax Memory Used: \\d+ MB\\t`
  const expected = [
    `INIT_START Runtime Version: python:3\\.12\\.v0\\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}`,
    'TELEMETRY\\tName: telemetry-recorder\\tState: Subscribed\\tTypes: \\[Platform, Function\\]',
    'EXTENSION\\tName: telemetry-recorder\\tState: Ready\\tEvents: \\[INVOKE, SHUTDOWN\\]',
    'EXTENSION\\tName: well-behaved\\tState: Ready\\tEvents: \\[INVOKE, SHUTDOWN\\]',
    ...invoke(`${memory}Init Duration: ${MS}\\t`),
    ...invoke(memory),
    ...invoke(`${memory}Status: error\\tError Type: Runtime\\.ExitError\\t`),
  ]
  t.equal(logs.length, expected.length, `${expected.length} lines:\n${logs.join('\n')}`)
  expected.forEach((pattern, index) => t.match(logs[index], new RegExp(`^${pattern}$`), `line ${index + 1}`))
  const [first, second] = logs.filter((line) => line.startsWith('REPORT'))
  const durations = (line = '') => /Duration: ([\d.]+) ms\tBilled Duration: (\d+) ms.*Init Duration: ([\d.]+) ms/.exec(line)
  const [, duration = 0, billed = 0, initDuration = 0] = (durations(first) ?? []).map(Number)
  // Each part is rounded up on its own, from the unrounded durations.
  t.ok(billed >= duration + initDuration && billed <= duration + initDuration + 2, `Billed Duration ${billed} covers Duration ${duration} + Init ${initDuration}`)
  t.notMatch(second, /Init Duration/, 'Init Duration only on the first invoke after the cold Init')
})

t.test('a failed Init: INIT_REPORT with Phase init, then Phase invoke before the invoke\'s own lines', async (t) => {
  const sandbox = await startSandbox(t, { functionDir: fn('import-error'), extensionsDir: extensionsDir(t, ['well-behaved']) })
  const result = await sandbox.invoke({})
  t.equal(result.errorType, 'Runtime.ImportModuleError')
  await sandbox.shutdown()
  const expected = [
    'INIT_START .*',
    'EXTENSION\\tName: well-behaved\\tState: Ready\\tEvents: \\[INVOKE, SHUTDOWN\\]',
    `INIT_REPORT Init Duration: ${MS}\\tPhase: init\\tStatus: error\\tError Type: Runtime\\.ImportModuleError`,
    'INIT_START .*',
    'EXTENSION\\tName: well-behaved\\tState: Ready\\tEvents: \\[INVOKE, SHUTDOWN\\]',
    `INIT_REPORT Init Duration: ${MS}\\tPhase: invoke\\tStatus: error\\tError Type: Runtime\\.ImportModuleError`,
    `START RequestId: ${UUID} Version: \\$LATEST`,
    `END RequestId: ${UUID}`,
    `REPORT RequestId: ${UUID}\\tDuration: ${MS}\\tBilled Duration: \\d+ ms\\tMemory Size: 128 MB\\tMax Memory Used: \\d+ MB\\tStatus: error\\tError Type: Runtime\\.ImportModuleError\\t`,
  ]
  const logs = sandbox.record.logs
  t.equal(logs.length, expected.length, logs.join('\n'))
  expected.forEach((pattern, index) => t.match(logs[index], new RegExp(`^${pattern}$`), `line ${index + 1}`))
})

t.test('lambda-harness run --logs prints them', async (t) => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [path.join(ROOT, 'dist', 'harness', 'cli.js'), 'run', fn('echo'), '--handler', 'app.handler', '--python', PYTHON, '--logs', '--quiet'],
    { cwd: ROOT },
  )
  // REPORT ends in a tab: split on newlines only.
  const lines = stdout.split('\n').slice(0, -1)
  t.match(lines[0], /^INIT_START Runtime Version: python:3\.12\.v0\t/)
  t.match(lines[1], new RegExp(`^START RequestId: ${UUID} Version: \\$LATEST$`))
  t.match(lines[2], new RegExp(`^END RequestId: ${UUID}$`))
  t.match(lines[3], new RegExp(`^REPORT RequestId: ${UUID}\\tDuration: ${MS}\\t.*\\tInit Duration: ${MS}\\t$`))
  t.equal(lines.length, 4)
})
