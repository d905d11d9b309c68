// OTLP export: a real `lambda-harness run` with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a loopback
// OTLP/HTTP collector this test runs (POST /v1/traces, the JSON encoding of the OTLP protobuf
// messages); and with the collector down or silent, the run still exits with its verdict and one warning.
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import t, { type Test } from 'tap'
import type { RunRecord } from '../harness/record/run-record.js'
import { cli, tempDir } from './cli-process.js'
import { PYTHON, extensionsDir, fn } from './helpers.js'

interface OtlpValue {
  stringValue?: string
  intValue?: string | number
  boolValue?: boolean
  doubleValue?: number
  arrayValue?: { values?: OtlpValue[] }
}
interface OtlpAttribute {
  key: string
  value: OtlpValue
}
interface OtlpSpan {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  startTimeUnixNano: string
  endTimeUnixNano: string
  attributes?: OtlpAttribute[]
  events?: { name: string; timeUnixNano: string; attributes?: OtlpAttribute[] }[]
  status?: { code?: number; message?: string }
}
interface OtlpRequest {
  resourceSpans: { resource: { attributes: OtlpAttribute[] }; scopeSpans: { spans: OtlpSpan[] }[] }[]
}

function plain(value: OtlpValue): unknown {
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(plain)
  if (value.intValue !== undefined) return Number(value.intValue)
  return value.stringValue ?? value.boolValue ?? value.doubleValue
}

function attrs(list: OtlpAttribute[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((a) => [a.key, plain(a.value)]))
}

/** Epoch ms of an OTLP nanosecond time string, to a float's precision (~0.25 µs): truncated to whole µs, a time could read 1 µs early. */
function ms(nanos: string): number {
  return Number(nanos) / 1e6
}

/** A loopback OTLP/HTTP collector keeping every request; `answer: false` takes requests and never answers. */
async function collector(t: Test, answer = true): Promise<{ url: string; requests: { path: string; contentType: string; body: OtlpRequest }[] }> {
  const requests: { path: string; contentType: string; body: OtlpRequest }[] = []
  const held: ServerResponse[] = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      requests.push({ path: req.url ?? '', contentType: req.headers['content-type'] ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpRequest })
      if (!answer) {
        held.push(res)
        return
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    held.forEach((res) => res.destroy())
    server.closeAllConnections()
    server.close()
    await once(server, 'close')
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests }
}

function runArgs(t: Test, json: string): string[] {
  return ['run', fn('echo'), '--handler', 'app.handler', '--python', PYTHON, '--extensions', extensionsDir(t, ['says-goodbye-and-exits']), '--invokes', '2', '--json', json]
}

t.test('run sends Init, each invoke, the Shutdown steps and each process life to the OTLP endpoint', async (t) => {
  const otlp = await collector(t)
  const json = path.join(tempDir(t, 'lh-otlp-'), 'record.json')
  const run = await cli(runArgs(t, json), { env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url } })
  t.equal(run.exitCode, 0, run.stderr)
  t.notMatch(run.stderr, /OTLP/, 'no warning when the collector takes the spans')
  const record = JSON.parse(readFileSync(json, 'utf8')) as RunRecord
  t.ok(otlp.requests.length > 0, 'the collector got a request')
  t.ok(otlp.requests.every((r) => r.path === '/v1/traces' && r.contentType.startsWith('application/json')), 'POST /v1/traces, OTLP JSON')
  const resourceSpans = otlp.requests.flatMap((r) => r.body.resourceSpans)
  t.ok(resourceSpans.every((r) => attrs(r.resource.attributes)['service.name'] === 'lambda-harness'), 'service.name lambda-harness')
  const spans = resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans))
  const byId = new Map(spans.map((s) => [s.spanId, s]))
  const roots = spans.filter((s) => s.parentSpanId === undefined || s.parentSpanId === '')
  t.equal(roots.length, 1, 'one root span for the run')
  const root = roots[0]!
  t.ok(spans.every((s) => s.traceId === root.traceId), 'one trace')
  const under = (parent: OtlpSpan) => spans.filter((s) => s.parentSpanId === parent.spanId)
  t.same(attrs(root.attributes)['faas.name'], record.function.name)
  t.same(
    under(root).map((s) => s.name).sort(),
    ['Init', 'Invoke', 'Invoke', 'Shutdown', ...record.processes.map((p) => `process ${p.name}`)].sort(),
    'Init, each invoke, the Shutdown and each process under the root',
  )
  const invokes = under(root).filter((s) => s.name === 'Invoke')
  t.same(invokes.map((s) => attrs(s.attributes)['faas.invocation_id']), record.invocations.map((i) => i.requestId), 'the request ids, in order')
  const shutdown = under(root).find((s) => s.name === 'Shutdown')!
  t.same(attrs(shutdown.attributes)['lambda_harness.shutdown.reason'], 'spindown')
  t.same(under(shutdown).map((s) => s.name).sort(), ['runtime: SIGTERM → exit', 'says-goodbye-and-exits: SHUTDOWN → exit'], 'the Shutdown steps under the Shutdown')
  const runtimeLife = under(root).find((s) => s.name === 'process runtime')!
  const runtime = record.processes.find((p) => p.name === 'runtime')!
  t.match(attrs(runtimeLife.attributes), { 'process.pid': runtime.pid, 'process.exit.code': runtime.exit?.code, 'lambda_harness.process.kind': 'runtime', 'lambda_harness.process.killed': false })
  t.ok((attrs(runtimeLife.attributes)['lambda_harness.process.signals'] as string[]).some((s) => s.startsWith('SIGTERM')), 'the signals it was sent')
  t.ok(runtimeLife.events?.some((e) => e.name.startsWith('signal:') && /SIGTERM/.test(e.name)), 'the SIGTERM as an event of its life')
  const start = Date.parse(record.startedAt)
  const init = under(root).find((s) => s.name === 'Init')!
  t.ok(Math.abs(ms(init.startTimeUnixNano) - (start + record.init!.startedAtMs)) < 0.001, 'the record\'s real times: epoch + atMs')
  t.ok(Math.abs(ms(invokes[1]!.endTimeUnixNano) - (start + record.invocations[1]!.startedAtMs + record.invocations[1]!.durationMs)) < 0.001)
  for (const span of spans) {
    const parent = span.parentSpanId === undefined || span.parentSpanId === '' ? undefined : byId.get(span.parentSpanId)
    t.ok(ms(span.startTimeUnixNano) <= ms(span.endTimeUnixNano), `${span.name}: starts before it ends`)
    if (parent !== undefined) {
      t.ok(ms(span.startTimeUnixNano) >= ms(parent.startTimeUnixNano) && ms(span.endTimeUnixNano) <= ms(parent.endTimeUnixNano), `${span.name} within ${parent.name}`)
    }
    for (const event of span.events ?? []) {
      t.ok(ms(event.timeUnixNano) >= start && ms(event.timeUnixNano) <= ms(root.endTimeUnixNano), `${span.name} event ${event.name}: within the run`)
    }
  }
})

t.test('check sends a trace per scenario', async (t) => {
  const otlp = await collector(t)
  const check = await cli(['check', 'extensions/minimal-node', '--only', 'registers,shutdown-spindown'], { env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url } })
  t.equal(check.exitCode, 0, check.stderr)
  const spans = otlp.requests.flatMap((r) => r.body.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((s) => s.spans)))
  const roots = spans.filter((s) => s.parentSpanId === undefined || s.parentSpanId === '')
  t.same(roots.map((s) => s.name).sort(), ['registers', 'shutdown-spindown'], 'a root per scenario')
  t.equal(new Set(roots.map((s) => s.traceId)).size, 2, 'each its own trace')
  t.ok(spans.some((s) => s.name === 'minimal-node: SHUTDOWN → exit'), 'the extension\'s Shutdown step')
})

/** A loopback port nothing listens on: a server's, closed again. */
async function refusingUrl(): Promise<string> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return `http://127.0.0.1:${port}`
}

t.test('with the collector down or silent, run still exits with its verdict and one warning', async (t) => {
  const silent = await collector(t, false)
  for (const [what, url] of [
    ['down', await refusingUrl()],
    ['silent', silent.url],
  ] as const) {
    const json = path.join(tempDir(t, 'lh-otlp-'), 'record.json')
    const run = await cli(runArgs(t, json), { env: { OTEL_EXPORTER_OTLP_ENDPOINT: url } })
    t.equal(run.exitCode, 0, `${what}: the verdict's exit code`)
    t.notOk(run.timedOut, `${what}: the CLI exits`)
    t.match(run.stdout, /Verdict: clean/, `${what}: the report`)
    t.equal((JSON.parse(readFileSync(json, 'utf8')) as RunRecord).verdict.clean, true, `${what}: the record`)
    t.equal(run.stderr.match(/warning: OTLP export/g)?.length ?? 0, 1, `${what}: one warning`)
    t.comment(`${what}: ${run.stderr.trim()} (${Math.round(run.ms)} ms)`)
  }
  t.ok(silent.requests.length > 0, 'the silent collector was asked')
})
