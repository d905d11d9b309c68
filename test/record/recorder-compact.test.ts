// The Recorder keeps the growing parts of the record compactly (record/compact.ts, stores.ts):
// what it renders must be the record a plain array of objects would have been, entry for entry.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { Recorder, SUMMARY_KEPT_INVOCATIONS } from '../../harness/record/recorder.js'
import type { InvocationRecord, TimelineEntry } from '../../harness/record/run-record.js'

function recorder(mode: 'full' | 'summary'): Recorder {
  return new Recorder({
    version: 'test',
    warnings: [],
    mode,
    runtime: { profile: 'python3.12', executionEnv: 'AWS_Lambda_python3.12', os: 'Amazon Linux 2023', command: ['python3'], python: null },
    function: { dir: '/f', handler: 'app.handler', name: 'f', timeoutMs: 3000, memoryMB: 128 },
  })
}

/** Drives a recorder through `count` invokes as a sandbox does and returns what a plain record would hold. */
function drive(rec: Recorder, count: number, eventful: (i: number) => boolean) {
  const invocations: InvocationRecord[] = []
  const timeline: TimelineEntry[] = []
  const add = (kind: TimelineEntry['kind'], detail: string, process?: string) => {
    const atMs = rec.now()
    rec.add(kind, detail, process, atMs)
    timeline.push(process === undefined ? { atMs, kind, detail } : { atMs, kind, process, detail })
  }
  add('phase', 'Init start (phase init, generation 0)')
  add('output', 'a line with a \u0000 in it', 'runtime')
  for (let i = 0; i < count; i++) {
    const requestId = i === 3 ? `not-a-uuid-$&-${i}` : randomUUID()
    const record: InvocationRecord = { requestId, status: 'success', response: i % 7 === 0 ? 'x'.repeat(300 + i) : '{}', contentType: 'application/json', durationMs: 0, startedAtMs: rec.now() }
    rec.invocation(record)
    invocations.push(record)
    add('phase', `START RequestId: ${requestId} Version: $LATEST`)
    add('event', `INVOKE ${requestId}`, 'ext')
    add('output', `ext event INVOKE ${requestId} ${requestId}`, 'ext')
    add('output', `line ${i}`, 'runtime')
    rec.log([`START RequestId: ${requestId} Version: $LATEST`, `END RequestId: ${requestId}`])
    if (eventful(i)) {
      record.status = 'error'
      record.errorType = 'Runtime.ExitError'
      record.resetReason = 'failure'
      add('exit', 'exited (code 1)', 'runtime')
      add('signal', 'SIGKILL (shutdown)', 'ext')
      rec.log([`RequestId: ${requestId} Error: Runtime exited with error: exit status 1`])
    }
    record.durationMs = 1.25 + i
    add('phase', `END RequestId: ${requestId} (${record.status})`)
  }
  add('phase', 'Shutdown start (reason spindown, window 2000 ms, runtime share 300 ms)')
  return { invocations, timeline }
}

t.test('full mode renders every invocation, timeline entry and log line as given', async (t) => {
  const rec = recorder('full')
  const model = drive(rec, 1500, (i) => i === 700)
  const record = JSON.parse(JSON.stringify(rec.record))
  t.same(record.invocations, JSON.parse(JSON.stringify(model.invocations)), 'invocations, key order and optional fields included')
  t.same(record.timeline, JSON.parse(JSON.stringify(model.timeline)), 'timeline entries')
  t.equal(JSON.stringify(record.invocations), JSON.stringify(model.invocations), 'the same JSON, byte for byte')
  t.equal(JSON.stringify(record.timeline), JSON.stringify(model.timeline), 'the same timeline JSON, byte for byte')
  t.equal(record.logs.length, 1500 * 2 + 1)
  t.equal(record.logs[1], `END RequestId: ${model.invocations[0]!.requestId}`)
  t.equal(record.summary, undefined, 'a full record says nothing of a summary')
  t.same(Object.keys(rec.snapshot()), Object.keys(record), 'a snapshot has the same fields in the same order')
})

t.test('summary mode keeps the first and last invocations, every eventful one, and counts the rest', async (t) => {
  const rec = recorder('summary')
  const count = 5000
  const model = drive(rec, count, (i) => i === 2500)
  const record = rec.snapshot()
  const keep = SUMMARY_KEPT_INVOCATIONS
  const expected = [...model.invocations.slice(0, keep), model.invocations[2500]!, ...model.invocations.slice(-keep)]
  t.equal(JSON.stringify(record.invocations), JSON.stringify(expected), 'first, eventful and last invocations, as they were')
  const eventfulId = model.invocations[2500]!.requestId
  t.ok(record.timeline.some((e) => e.detail === `START RequestId: ${eventfulId} Version: $LATEST`), "the eventful invoke's own entries are kept")
  t.same(
    record.timeline.filter((e) => e.kind === 'exit' || e.kind === 'signal'),
    model.timeline.filter((e) => e.kind === 'exit' || e.kind === 'signal'),
    'every exit and signal',
  )
  t.ok(record.logs.includes(`RequestId: ${eventfulId} Error: Runtime exited with error: exit status 1`), 'the error log line')
  t.equal(record.timeline.at(-1)?.detail, model.timeline.at(-1)?.detail, 'the last entry')
  t.same(record.summary, {
    keptInvocations: keep,
    invocations: count,
    timelineEntries: model.timeline.length,
    logLines: count * 2 + 1,
    dropped: {
      invocations: count - 2 * keep - 1,
      timelineEntries: (count - 2 * keep - 1) * 5,
      logLines: (count - 2 * keep - 1) * 2,
      processEvents: 0,
    },
  })
  t.equal(record.timeline.length + record.summary!.dropped.timelineEntries, model.timeline.length, 'kept + dropped = all entries')
})

t.test("the platform's log lines come back as given, number words and stray marks included", async (t) => {
  for (const mode of ['full', 'summary'] as const) {
    const rec = recorder(mode)
    const lines: string[] = []
    const log = (line: string) => {
      rec.log([line])
      lines.push(line)
    }
    log('INIT_START Runtime Version: python:3.12.v0\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:5eb5af18')
    for (let i = 0; i < 700; i++) {
      const requestId = i === 5 ? 'not-a-uuid 12' : randomUUID()
      const record: InvocationRecord = { requestId, status: 'success', response: '{}', contentType: 'application/json', durationMs: 0, startedAtMs: rec.now() }
      rec.invocation(record)
      const duration = (i * 1.37) % 900
      const init = i % 50 === 0 ? `Init Duration: ${(i * 3.1).toFixed(2)} ms\t` : ''
      log(`START RequestId: ${requestId} Version: $LATEST`)
      log(`END RequestId: ${requestId}`)
      log(`REPORT RequestId: ${requestId}\tDuration: ${duration.toFixed(2)} ms\tBilled Duration: ${Math.ceil(duration)} ms\tMemory Size: 128 MB\tMax Memory Used: ${i % 200} MB\t${init}`)
      if (i % 89 === 1) {
        // REPORT's shape with words in its number places that are not its numbers: each must still come back as given.
        for (const word of ['05', '1.234', '1.2', '1', '2147483648', '2147483647', '9999999999', '0', '0.00', '-1', '1.', '', 'x', '99999999.99', '21474836.48', '21474836.47']) {
          log(`REPORT RequestId: ${requestId}\tDuration: ${word} ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 64 MB\t`)
          log(`REPORT RequestId: ${requestId}\tDuration: 1.00 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: ${word} MB\t`)
          log(`REPORT RequestId: ${requestId}\tDuration: 1.00 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 64 MB\t${word}`)
        }
      }
      if (i % 97 === 0) {
        // Words that are numbers but not as toFixed writes them, one too big for the column, and marks' characters.
        log(`odd ${requestId} 007 1.5e3 -2 3. 0.1234 4294967296 2147483.647 2147483.648 0.000 0 ${i}`)
        log(`marks ${requestId} 12\u0001 \u0002 0 ${i}`)
        log(`RequestId: ${requestId} Error: Runtime exited with error: exit status ${i % 3}`)
      }
    }
    const record = JSON.parse(JSON.stringify(rec.record))
    const expected = mode === 'full' ? lines : rec.snapshot().logs
    t.equal(JSON.stringify(record.logs), JSON.stringify(expected), `${mode}: the same lines, byte for byte`)
    if (mode === 'summary') {
      t.ok(expected.every((line) => lines.includes(line)), 'a summary keeps lines as they were')
      t.ok(expected.includes(lines.at(-1)!), 'the last line')
    }
  }
})

t.test('a recorder that has recorded nothing renders an empty record with every field in place', async (t) => {
  const rec = recorder('full')
  const record = JSON.parse(JSON.stringify(rec.record))
  t.same(Object.keys(record), ['harness', 'startedAt', 'runtime', 'function', 'init', 'invocations', 'resets', 'shutdown', 'processes', 'resources', 'verdict', 'warnings', 'timeline', 'logs', 'droppedOutputLines', 'interrupted'])
  t.same([record.invocations, record.timeline, record.logs], [[], [], []])
  t.same(Object.keys(recorder('summary').record).at(-1), 'summary')
})
