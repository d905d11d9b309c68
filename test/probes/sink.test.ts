// The sink probe over real HTTP: what it counts, waits that are events, and requests that must not
// take it down.
import { connect } from 'node:net'
import { gzipSync } from 'node:zlib'
import t, { type Test } from 'tap'
import { countRecords, SinkProbe, type RunningSink, type SinkDelivery, type SinkOptions } from '../../harness/probes/sink.js'

/** Starts a sink and stops it at teardown. */
async function startSink(t: Test, options?: SinkOptions): Promise<RunningSink> {
  const sink = await SinkProbe.start(options)
  t.teardown(() => sink.stop())
  return sink
}

async function post(sink: RunningSink, body: string | Buffer, headers: Record<string, string> = {}, path = '/'): Promise<number> {
  const response = await fetch(`${sink.url}${path}`, { method: 'POST', body, headers })
  await response.arrayBuffer()
  return response.status
}

/** Sends raw bytes on a fresh connection and resolves with whatever comes back before it closes. */
function raw(sink: RunningSink, bytes: string, options: { end?: boolean } = {}): Promise<string> {
  const { port } = new URL(sink.url)
  return new Promise((resolve) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(bytes)
      if (options.end === true) {
        socket.end()
      } else {
        // Abandon the request mid-body.
        setImmediate(() => socket.destroy())
      }
    })
    let answer = ''
    socket.on('data', (data) => (answer += data.toString()))
    socket.on('close', () => resolve(answer))
    socket.on('error', () => resolve(answer))
  })
}

t.test('countRecords: arrays, NDJSON, empty and anything else', async (t) => {
  const cases: [string, string | undefined, number][] = [
    ['[{"a":1},{"a":2},{"a":3}]', 'application/json', 3],
    ['[]', 'application/json', 0],
    ['{"record":1}', 'application/json', 1],
    ['{\n  "pretty": true,\n  "spans": 2\n}', 'application/json', 1],
    ['{"a":1}\n{"a":2}\n{"a":3}\n{"a":4}\n', undefined, 4],
    ['{"a":1}\r\n{"a":2}\r\n', 'text/plain', 2],
    ['line one\nline two\n', 'application/x-ndjson', 2],
    ['\u001e{"a":1}\n\u001e{"a":2}\n', 'application/json-seq', 2],
    ['{"a":1}\n{"a":', undefined, 1],
    ['plain log line\nand another\n', 'text/plain', 1],
    ['', undefined, 0],
    ['  \n', undefined, 0],
    ['\u0000\u00ff binary', 'application/octet-stream', 1],
  ]
  for (const [body, type, expected] of cases) {
    t.equal(countRecords(Buffer.from(body), type), expected, `${JSON.stringify(body)} as ${type ?? 'no type'}`)
  }
})

t.test('it counts requests, records and bytes of what it receives', async (t) => {
  const deliveries: SinkDelivery[] = []
  const sink = await startSink(t, { onDelivery: (delivery) => deliveries.push(delivery) })
  t.match(sink.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.equal(await post(sink, JSON.stringify([1, 2, 3]), { 'content-type': 'application/json' }, '/logs'), 200)
  t.equal(await post(sink, '{"a":1}\n{"a":2}\n', { 'content-type': 'application/x-ndjson' }), 200)
  t.equal(await post(sink, 'a plain body'), 200)
  t.equal(await post(sink, gzipSync(JSON.stringify([1, 2, 3, 4])), { 'content-type': 'application/json', 'content-encoding': 'gzip' }), 200)
  const received = sink.received()
  t.match(received, { requests: 4, records: 3 + 2 + 1 + 4, rejected: 0, droppedBodies: 0 })
  t.equal(received.bytes, 7 + 16 + 12 + gzipSync(JSON.stringify([1, 2, 3, 4])).length)
  t.same(received.bodies, ['[1,2,3]', '{"a":1}\n{"a":2}\n', 'a plain body', '[1,2,3,4]'])
  t.match(deliveries[0], { method: 'POST', path: '/logs', contentType: 'application/json', bytes: 7, records: 3 })
  t.equal(deliveries.length, 4)
})

t.test('waitFor resolves on the delivery of the Nth record, not before', async (t) => {
  const sink = await startSink(t)
  let settled = false
  const waiting = sink.waitFor((r) => r.records >= 5, 10_000).finally(() => (settled = true))
  for (let i = 0; i < 2; i++) {
    await post(sink, JSON.stringify([i, i]))
  }
  t.equal(sink.received().records, 4)
  t.notOk(settled, 'four records are not five')
  await post(sink, JSON.stringify({ last: true }))
  const received = await waiting
  t.equal(received.records, 5)
  t.equal(received.requests, 3)
  // A condition that already holds resolves at once.
  t.equal((await sink.waitFor((r) => r.requests === 3, 0)).records, 5)
})

t.test('waitFor rejects on timeout, abort and stop, naming what arrived', async (t) => {
  const sink = await startSink(t)
  await post(sink, '[1]')
  await t.rejects(sink.waitFor((r) => r.records >= 2, 50), {
    code: 'ERR_PROBE_FAILED',
    message: 'sink: the condition did not hold within 50 ms (received 1 requests, 1 records, 3 bytes, 0 rejected)',
  })
  const controller = new AbortController()
  const aborted = sink.waitFor((r) => r.records >= 2, 10_000, { signal: controller.signal })
  controller.abort(new Error('test over'))
  await t.rejects(aborted, { message: 'test over' })
  const pending = sink.waitFor((r) => r.records >= 2, 10_000)
  const final = await sink.stop()
  await t.rejects(pending, { code: 'ERR_PROBE_FAILED', message: /^sink: stopped before the condition held/ })
  t.equal(final.records, 1)
  await t.rejects(sink.waitFor(() => false, 10), { code: 'ERR_PROBE_FAILED' })
  await t.rejects(sink.waitFor(() => true, -1), { code: 'ERR_INVALID_OPTION' })
  t.same(await sink.stop(), final, 'stop is idempotent')
})

t.test('bad requests are answered or dropped, and the sink keeps serving', async (t) => {
  const sink = await startSink(t, { maxBodyBytes: 1024 })
  t.match(await raw(sink, 'this is not HTTP at all\r\n\r\n', { end: true }), /^HTTP\/1\.1 400/)
  await raw(sink, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part of it')
  t.equal(await post(sink, Buffer.alloc(4096, 'a')), 413, 'a body past maxBodyBytes is refused')
  t.equal(await post(sink, 'not gzip', { 'content-encoding': 'gzip' }), 400)
  t.equal(await post(sink, gzipSync(Buffer.alloc(100_000))), 200, 'an unknown encoding (none declared) is opaque bytes')
  t.equal(await post(sink, gzipSync(Buffer.alloc(100_000)), { 'content-encoding': 'gzip' }), 400, 'a gzip bomb past maxBodyBytes does not decode')
  t.equal(await post(sink, '{"broken json'), 200)
  t.equal(await post(sink, '[1,2]'), 200, 'still serving')
  const received = await sink.waitFor((r) => r.rejected >= 4, 5000)
  t.match(received, { requests: 3, records: 1 + 1 + 2, rejected: 4 })
})

t.test('memory is bounded: only the last bodies are kept, each cut short', async (t) => {
  const sink = await startSink(t, { keepBodies: 2, keepBodyBytes: 5 })
  for (const body of ['first body', 'second body', 'third body']) {
    await post(sink, body)
  }
  t.match(sink.received(), { requests: 3, records: 3, bodies: ['secon', 'third'], droppedBodies: 1 })
  const none = await startSink(t, { keepBodies: 0 })
  await post(none, '[1]')
  t.match(none.received(), { records: 1, bodies: [], droppedBodies: 1 })
  await t.rejects(SinkProbe.start({ maxBodyBytes: 0 }), {
    code: 'ERR_INVALID_OPTION',
    message: 'option sink.maxBodyBytes: expected a whole number, 1 or more, got 0',
  })
})

t.test('it answers fast', async (t) => {
  const sink = await startSink(t)
  const body = JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({ i, message: 'a log record of a typical size, say about eighty bytes' })))
  await post(sink, body)
  const started = performance.now()
  const rounds = 50
  for (let i = 0; i < rounds; i++) {
    await post(sink, body)
  }
  const perRequestMs = (performance.now() - started) / rounds
  t.comment(`${(body.length / 1024).toFixed(0)} KiB, 1000 records: ${perRequestMs.toFixed(2)} ms per request (fetch included)`)
  t.equal(sink.received().records, 1000 * (rounds + 1))
})
