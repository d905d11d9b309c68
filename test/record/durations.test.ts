// Every duration and time in the RunRecord, and every platform.* metric, carries at most 3 decimals
// (Lambda prints `7.462`, not `7.461999999999989`; issue 19): rounded where it is computed.
import t from 'tap'
import { SinkProbe } from '../../harness/probes/sink.js'
import type { TelemetryEvent } from '../../harness/telemetry/events.js'
import { extensionsDir, fn, startSandbox } from '../helpers.js'

const INVOKES = 20

/** Paths of numbers under keys ending in "Ms" or "MB" whose shortest form has more than 3 decimals. */
function noisy(value: unknown, path = '$'): string[] {
  if (Array.isArray(value)) {
    return value.flatMap((item, i) => noisy(item, `${path}[${i}]`))
  }
  if (typeof value !== 'object' || value === null) {
    return []
  }
  return Object.entries(value).flatMap(([key, item]) => {
    const at = `${path}.${key}`
    if (typeof item === 'number' && /(Ms|MB)$/.test(key) && !/^-?\d+(\.\d{1,3})?$/.test(String(item))) {
      return [`${at} = ${item}`]
    }
    return noisy(item, at)
  })
}

t.test(`${INVOKES} invokes, a reset and a Shutdown: no duration with float noise`, async (t) => {
  const sink = await SinkProbe.start({ keepBodies: 1000, keepBodyBytes: 1024 * 1024 })
  t.teardown(() => sink.stop())
  const sandbox = await startSandbox(t, {
    functionDir: fn('prints-lines'),
    extensionsDir: extensionsDir(t, ['telemetry-recorder']),
    env: { SINK_URL: sink.url, TELEMETRY_TYPES: 'platform' },
    hostPorts: [Number(new URL(sink.url).port)],
    // Everything buffered reaches the recorder, which exits on SHUTDOWN.
    telemetry: { flushBeforeShutdown: true },
  })
  for (let i = 0; i < INVOKES; i++) {
    await sandbox.invoke({ lines: 1 })
  }
  t.equal((await sandbox.invoke({ exit: 1 })).errorType, 'Runtime.ExitError', 'a crash, then a reset')
  await sandbox.invoke({ lines: 1 })
  await sandbox.shutdown()
  t.same(noisy(JSON.parse(JSON.stringify(sandbox.record))), [], 'the RunRecord')
  const events = sink
    .received()
    .bodies.flatMap((body) => (JSON.parse(body) as { batch?: TelemetryEvent[] }).batch ?? [])
    .filter((e) => e.type.startsWith('platform.'))
  t.ok(events.filter((e) => e.type === 'platform.report').length >= INVOKES, 'the platform.report events arrived')
  t.same(noisy(events), [], 'platform.* metrics (durationMs, initDurationMs, …)')
})
