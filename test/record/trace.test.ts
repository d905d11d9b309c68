// The Chrome trace-event view of a RunRecord, checked against the Trace Event Format's rules (the
// JSON Object Format: traceEvents[], ts and dur in microseconds, ph X/i/M, instant scopes, name
// metadata) and the one Perfetto adds for slices (spans on a track nest, never partly overlap).
// Structure only: no packaged trace viewer on npm loads a file headlessly.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import { traceDocument, type TraceDocument, type TraceEvent } from '../../harness/record/trace.js'
import { cli, tempDir } from '../cli-process.js'
import { PYTHON, extensionsDir, fn, startSandbox } from '../helpers.js'

const PHASES = new Set(['X', 'i', 'I', 'M', 'B', 'E'])
const METADATA = new Set(['process_name', 'thread_name', 'process_sort_index', 'thread_sort_index', 'process_labels'])

/** Every rule of the format the file must keep; returns the broken ones. */
function formatErrors(document: unknown): string[] {
  const errors: string[] = []
  const doc = document as Partial<TraceDocument>
  if (typeof doc !== 'object' || doc === null || !Array.isArray(doc.traceEvents)) {
    return ['not an object with a traceEvents array']
  }
  if (doc.displayTimeUnit !== undefined && !['ms', 'ns'].includes(doc.displayTimeUnit)) {
    errors.push(`displayTimeUnit ${String(doc.displayTimeUnit)}`)
  }
  const named = new Set<string>()
  const spans = new Map<string, TraceEvent[]>()
  doc.traceEvents.forEach((event, index) => {
    const at = `traceEvents[${index}]`
    if (typeof event.name !== 'string' || event.name === '') errors.push(`${at}.name`)
    if (!PHASES.has(event.ph)) errors.push(`${at}.ph ${String(event.ph)}`)
    if (typeof event.ts !== 'number' || !Number.isFinite(event.ts) || event.ts < 0) errors.push(`${at}.ts ${String(event.ts)}`)
    if (!Number.isInteger(event.pid) || !Number.isInteger(event.tid)) errors.push(`${at}.pid/tid`)
    if (event.args !== undefined && (typeof event.args !== 'object' || event.args === null || Array.isArray(event.args))) errors.push(`${at}.args`)
    if (event.ph === 'X') {
      if (typeof event.dur !== 'number' || !Number.isFinite(event.dur) || event.dur < 0) errors.push(`${at}.dur ${String(event.dur)}`)
      const key = `${event.pid}/${event.tid}`
      spans.set(key, [...(spans.get(key) ?? []), event])
    }
    if (event.ph === 'i' && event.s !== undefined && !['g', 'p', 't'].includes(event.s)) errors.push(`${at}.s ${event.s}`)
    if (event.ph === 'M') {
      if (!METADATA.has(event.name)) errors.push(`${at} metadata ${event.name}`)
      if (event.name.endsWith('_name') && typeof event.args?.name !== 'string') errors.push(`${at}.args.name`)
      if (event.name === 'thread_name') named.add(`${event.pid}/${event.tid}`)
    }
  })
  for (const event of doc.traceEvents.filter((e) => e.ph !== 'M')) {
    if (!named.has(`${event.pid}/${event.tid}`)) errors.push(`track ${event.pid}/${event.tid} has no thread_name`)
  }
  for (const [track, list] of spans) {
    const sorted = [...list].sort((a, b) => a.ts - b.ts || b.dur! - a.dur!)
    const open: TraceEvent[] = []
    for (const span of sorted) {
      while (open.length > 0 && open.at(-1)!.ts + open.at(-1)!.dur! <= span.ts) open.pop()
      const parent = open.at(-1)
      if (parent !== undefined && span.ts + span.dur! > parent.ts + parent.dur!) errors.push(`track ${track}: "${span.name}" overlaps "${parent.name}" partly`)
      open.push(span)
    }
  }
  return [...new Set(errors)]
}

function checkFormat(t: Test, document: unknown): void {
  t.same(formatErrors(document), [], 'keeps the trace-event format')
}

t.test('a run as a trace: tracks, phases, invokes, Shutdown steps, every timeline entry, the deadlines', async (t) => {
  const sandbox = await startSandbox(t, { functionDir: fn('sigterm-handler'), extensionsDir: extensionsDir(t, ['well-behaved']) })
  for (let i = 0; i < 3; i++) {
    await sandbox.invoke({})
  }
  await sandbox.shutdown({ reason: 'spindown' })
  const record = sandbox.record
  const doc = traceDocument([{ title: 'sigterm-handler', record }])
  checkFormat(t, doc)
  const events = doc.traceEvents
  t.same(events.filter((e) => e.name === 'thread_name').map((e) => e.args?.name), ['platform', 'well-behaved', 'runtime'], 'a track per process (in start order: extensions first) and the platform')
  const platform = events.filter((e) => e.ph === 'X' && e.tid === 0).map((e) => e.name)
  t.same(platform, ['Init (success)', 'Invoke 1 (success)', 'Invoke 2 (success)', 'Invoke 3 (success)', 'Shutdown (spindown)'])
  const runtimeTid = events.find((e) => e.name === 'thread_name' && e.args?.name === 'runtime')!.tid
  const extensionTid = events.find((e) => e.name === 'thread_name' && e.args?.name === 'well-behaved')!.tid
  t.ok(events.some((e) => e.ph === 'X' && e.tid === runtimeTid && e.name === 'SIGTERM → exit'), "the runtime's Shutdown step")
  t.ok(events.some((e) => e.ph === 'X' && e.tid === extensionTid && e.name === 'SHUTDOWN → exit'), "the extension's Shutdown step")
  const instants = events.filter((e) => e.ph === 'i' && e.cat !== 'deadline')
  t.equal(instants.length, record.timeline.length, 'every timeline entry is an instant')
  t.ok(instants.some((e) => e.cat === 'signal' && e.tid === runtimeTid && /SIGTERM/.test(e.name)))
  t.ok(instants.some((e) => e.cat === 'output' && e.args?.detail === 'SIGTERM received'), 'output lines with their text')
  const deadline = events.find((e) => e.name === 'Shutdown deadline')
  t.equal(deadline?.ts, Math.round(record.shutdown!.deadlineAtMs * 1000))
  t.equal(events.filter((e) => e.name === 'Invoke deadline (function timeout)').length, 3)
})

t.test('run --trace and check --trace write files in the format', async (t) => {
  const dir = tempDir(t, 'lh-trace-')
  const runTrace = path.join(dir, 'run.json')
  const run = await cli(['run', fn('echo'), '--handler', 'app.handler', '--python', PYTHON, '--quiet', '--trace', runTrace])
  t.equal(run.exitCode, 0, run.stderr)
  checkFormat(t, JSON.parse(readFileSync(runTrace, 'utf8')))
  const checkTrace = path.join(dir, 'check.json')
  const check = await cli(['check', 'extensions/minimal-node', '--only', 'registers,shutdown-spindown', '--trace', checkTrace])
  t.equal(check.exitCode, 0, check.stderr)
  const doc = JSON.parse(readFileSync(checkTrace, 'utf8')) as TraceDocument
  checkFormat(t, doc)
  t.same(doc.traceEvents.filter((e) => e.name === 'process_name').map((e) => e.args?.name), ['registers', 'shutdown-spindown'], 'a trace process per scenario')
})

t.test('the format check itself finds what breaks the rules', async (t) => {
  const meta = { name: 'thread_name', ph: 'M', pid: 1, tid: 0, ts: 0, args: { name: 'platform' } }
  t.same(formatErrors({ traceEvents: [meta, { name: 'a', ph: 'X', pid: 1, tid: 0, ts: 0, dur: 10 }, { name: 'b', ph: 'X', pid: 1, tid: 0, ts: 5, dur: 10 }] }), ['track 1/0: "b" overlaps "a" partly'])
  t.same(formatErrors({ traceEvents: [{ name: 'x', ph: 'i', s: 'q', pid: 1, tid: 2, ts: -1 }] }), ['traceEvents[0].ts -1', 'traceEvents[0].s q', 'track 1/2 has no thread_name'])
  t.same(formatErrors({ traceEvents: [meta, { name: 'a', ph: 'X', pid: 1, tid: 0, ts: 0 }] }), ['traceEvents[1].dur undefined'])
  t.same(formatErrors([]), ['not an object with a traceEvents array'])
})
