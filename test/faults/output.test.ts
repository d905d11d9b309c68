// Faults (issue 7 "Hardening", item 3): output abuse. A process that shuts its stdout and stderr
// and goes on working stays supervised; a 100 MB flood, from the function or from an extension,
// half of it one line with no newline, leaves the harness's memory bounded and the record's
// captured output capped (MAX_LINE_BYTES, the timeline's output caps, droppedOutputLines).
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t, { type Test } from 'tap'
import { formatReport, type RunRecord } from '../../harness/index.js'
import { MAX_TIMELINE_OUTPUT_CHARS } from '../../harness/record/recorder.js'
import { MAX_LINE_BYTES } from '../../harness/supervisor/supervisor.js'
import { extensionsDir, fn, startSandbox } from '../helpers.js'

const FLOOD_MB = 100
const MB = 1024 * 1024
/** Generous: the flood is 100 MB, and the harness should keep a small, fixed part of it. */
const GROWTH_LIMIT_MB = 100

interface Memory {
  readonly rss: number
  readonly heapUsed: number
  readonly external: number
  /** Peak RSS of this process so far. */
  readonly maxRss: number
}

// tap starts this file without --expose-gc: turn it on here, so heap numbers are live data only.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function memory(): Memory {
  gc()
  const usage = process.memoryUsage()
  return { rss: usage.rss, heapUsed: usage.heapUsed, external: usage.external + usage.arrayBuffers, maxRss: process.resourceUsage().maxRSS * 1024 }
}

function mb(bytes: number): string {
  return `${(bytes / MB).toFixed(1)} MB`
}

/** Output the timeline kept for a process: lines and characters. */
function kept(record: RunRecord, process: string): { lines: number; chars: number; longest: number } {
  const lines = record.timeline.filter((e) => e.kind === 'output' && e.process === process).map((e) => e.detail)
  return { lines: lines.length, chars: lines.reduce((sum, line) => sum + line.length, 0), longest: Math.max(0, ...lines.map((line) => line.length)) }
}

/** Memory before and after `flood`, its growth bounded and printed. */
async function assertBoundedMemory(t: Test, what: string, flood: () => Promise<void>): Promise<void> {
  const before = memory()
  await flood()
  const after = memory()
  const growth = {
    rss: after.rss - before.rss,
    heapUsed: after.heapUsed - before.heapUsed,
    external: after.external - before.external,
    peak: after.maxRss - before.maxRss,
  }
  t.comment(
    `${what}: RSS ${mb(before.rss)} → ${mb(after.rss)} (${mb(growth.rss)}), heap ${mb(before.heapUsed)} → ${mb(after.heapUsed)} (${mb(growth.heapUsed)}), ` +
      `buffers ${mb(growth.external)}, peak RSS ${mb(before.maxRss)} → ${mb(after.maxRss)} (+${mb(growth.peak)}), after a forced gc`,
  )
  t.ok(growth.peak < GROWTH_LIMIT_MB * MB, `peak RSS grew ${mb(growth.peak)} for ${FLOOD_MB} MB written (limit ${GROWTH_LIMIT_MB} MB)`)
  t.ok(growth.rss < GROWTH_LIMIT_MB * MB, `RSS grew ${mb(growth.rss)}`)
  t.ok(growth.heapUsed < GROWTH_LIMIT_MB * MB, `heap grew ${mb(growth.heapUsed)}`)
}

/** The record of a flood: capped, counted, complete, and still readable. */
function assertCapped(t: Test, record: RunRecord, flooder: string): void {
  const output = kept(record, flooder)
  t.comment(`${flooder}: kept ${output.lines} lines, ${mb(output.chars)} (longest ${output.longest} chars); ${record.droppedOutputLines} lines not kept; record JSON ${mb(JSON.stringify(record).length)}`)
  t.ok(output.longest <= MAX_LINE_BYTES + '[stderr] '.length, 'no kept line is longer than MAX_LINE_BYTES')
  t.ok(output.chars <= MAX_TIMELINE_OUTPUT_CHARS, `the kept output is capped (${output.chars} ≤ ${MAX_TIMELINE_OUTPUT_CHARS} chars)`)
  t.ok(record.droppedOutputLines > 0, `the rest is counted: ${record.droppedOutputLines} lines`)
  t.ok(record.shutdown?.final === true, 'the final Shutdown ran')
  for (const process of record.processes) {
    t.ok(process.exit !== null, `${process.name} has its exit: ${JSON.stringify(process.exit)}`)
  }
  t.match(formatReport(record), new RegExp(`… ${record.droppedOutputLines} more output lines not kept`), 'the report says how many lines it left out')
}

t.test(`the function floods ${FLOOD_MB} MB: memory stays bounded, the record keeps a capped part`, async (t) => {
  const sandbox = await startSandbox(t, { functionDir: fn('abuses-output'), extensionsDir: extensionsDir(t, ['well-behaved']), timeoutSec: 120 })
  let written = 0
  await assertBoundedMemory(t, 'function flood', async () => {
    const invocation = await sandbox.invoke({ mb: FLOOD_MB })
    t.equal(invocation.status, 'success', 'the invoke completed')
    written = (JSON.parse(invocation.response) as { written: number }).written
    t.equal((await sandbox.invoke({ mb: 0 })).status, 'success', 'and the next one too')
    await sandbox.shutdown()
  })
  t.equal(written, FLOOD_MB * MB + 1)
  const record = sandbox.record
  assertCapped(t, record, 'runtime')
  t.same(record.verdict, { clean: true, problems: [] }, 'a flood is not a fault of the lifecycle')
  t.ok(
    record.timeline.some((e) => e.kind === 'output' && e.process === 'well-behaved' && e.detail === 'well-behaved event SHUTDOWN spindown'),
    'the extension\'s lines after the flood are still kept',
  )
})

t.test(`an extension floods ${FLOOD_MB} MB on INVOKE: the same bounds`, async (t) => {
  const sandbox = await startSandbox(t, {
    functionDir: fn('echo'),
    extensionsDir: extensionsDir(t, ['floods-output']),
    env: { FLOOD_MB: String(FLOOD_MB) },
    timeoutSec: 120,
  })
  await assertBoundedMemory(t, 'extension flood', async () => {
    const invocation = await sandbox.invoke({ flooded: true })
    t.match(invocation, { status: 'success', response: '{"flooded": true}' }, 'the invoke completed once the extension was done')
    await sandbox.shutdown()
  })
  const record = sandbox.record
  assertCapped(t, record, 'floods-output')
  t.match(record.shutdown?.extensions, [{ name: 'floods-output', state: 'Exited', exit: { code: 0, signal: null } }])
  t.same(record.verdict, { clean: true, problems: [] })
})

t.test('processes that shut their stdout and stderr keep being supervised, and invokes complete', async (t) => {
  const sandbox = await startSandbox(t, {
    functionDir: fn('abuses-output'),
    handler: 'closes.handler',
    extensionsDir: extensionsDir(t, ['closes-output']),
  })
  t.equal(sandbox.record.init?.status, 'success')
  for (let i = 1; i <= 3; i++) {
    const invocation = await sandbox.invoke({ i })
    t.match(invocation, { status: 'success' })
    t.same(JSON.parse(invocation.response), { invokes: i, event: { i } }, `invoke ${i} answered by the same runtime`)
  }
  const shutdown = await sandbox.shutdown()
  const record = sandbox.record
  const lines = (process: string) => record.timeline.filter((e) => e.kind === 'output' && e.process === process).map((e) => e.detail)
  t.same(lines('runtime'), ['closing stdout and stderr'], 'the runtime\'s last line is the one before it shut its output')
  t.same(lines('closes-output'), ['closes-output registered ["INVOKE", "SHUTDOWN"]', 'closes-output closing stdout and stderr'])
  t.same(
    record.processes.map((p) => [p.name, p.generation]),
    [['closes-output', 0], ['runtime', 0]],
    'no process was restarted',
  )
  t.same(shutdown.runtime?.exit, { code: null, signal: 'SIGTERM' }, 'the runtime ended at Shutdown, on SIGTERM')
  t.match(shutdown.extensions, [{ name: 'closes-output', exit: { code: 0, signal: null }, state: 'Exited' }], 'the extension exited on SHUTDOWN')
  t.ok(
    shutdown.extensions[0]!.events.some((e) => e.eventType === 'SHUTDOWN'),
    'it still received SHUTDOWN',
  )
  t.same(record.verdict, { clean: true, problems: [] })
  t.same(JSON.parse(JSON.stringify(record)), record)
})
