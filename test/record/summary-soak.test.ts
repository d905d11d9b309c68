// `record: 'summary'` on a soak run: 20,000 invokes with an extension and a crash-and-reset in the
// middle. The summary stays bounded (its heap is measured and shown, not asserted) and its verdict
// is the full record's on the same scenario.
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t, { type Test } from 'tap'
import type { RunRecord } from '../../harness/index.js'
import { SUMMARY_KEPT_INVOCATIONS } from '../../harness/record/recorder.js'
import { extensionsDir, fn, startSandbox } from '../helpers.js'

const INVOKES = 20_000
const CRASH_AT = INVOKES / 2

// Two runs of 20,000 invokes: minutes on a loaded machine, past the suite's per-file default.
t.setTimeout(900_000)
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function heapMB(): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed / 1024 / 1024 + process.memoryUsage().external / 1024 / 1024
}

async function soak(t: Test, mode: 'full' | 'summary'): Promise<RunRecord> {
  const sandbox = await startSandbox(t, { functionDir: fn('exits-when-asked'), extensionsDir: extensionsDir(t, ['well-behaved']), record: mode })
  const heap: string[] = []
  for (let i = 0; i < INVOKES; i++) {
    await sandbox.invoke(i === CRASH_AT ? { exit: 1 } : {})
    if ((i + 1) % 5000 === 0) {
      heap.push(`${i + 1}: ${heapMB().toFixed(1)} MB`)
    }
  }
  await sandbox.shutdown()
  t.comment(`${mode}: JS heap + external after ${heap.join(', ')}`)
  return sandbox.record
}

/** The verdict with each run's own request ids and pids left out. */
function verdictOf(record: RunRecord): unknown {
  return JSON.parse(JSON.stringify(record.verdict).replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>').replace(/pid \d+/g, 'pid <n>'))
}

const eventful = (record: RunRecord) => record.timeline.filter((e) => e.kind === 'signal' || e.kind === 'exit' || e.kind === 'problem' || e.kind === 'spawn').map((e) => `${e.kind} ${e.process} ${e.detail.replace(/lh-ext-\w+/g, '<extensions>').replace(/\d+/g, 'n')}`)

t.test('a summary of 20,000 invokes keeps what the verdict needs and the full verdict', async (t) => {
  const summary = await soak(t, 'summary')
  const full = await soak(t, 'full')
  t.same(verdictOf(summary), verdictOf(full), 'the same verdict as the full record')
  t.equal(summary.verdict.clean, false, 'the crash made it unclean in both')
  t.same(summary.resets.length, full.resets.length, 'every reset')
  t.same(eventful(summary), eventful(full), 'every signal, exit, spawn and problem entry')
  t.equal(summary.summary?.invocations, INVOKES, 'the summary counts every invocation')
  t.equal(full.summary, undefined)
  const keep = SUMMARY_KEPT_INVOCATIONS
  t.ok(summary.invocations.length <= 2 * keep + 2, `at most the first and last ${keep} invocations and the eventful ones (${summary.invocations.length})`)
  t.equal(summary.invocations.filter((i) => i.status !== 'success').length, full.invocations.filter((i) => i.status !== 'success').length, 'every failed invocation')
  t.ok(summary.invocations.some((i) => i.init !== undefined), 'the invoke that re-initialised after the reset')
  const ext = summary.processes.filter((p) => p.name === 'well-behaved')
  t.ok(ext.every((p) => p.events.length <= 3 * keep + 1), 'each extension keeps a bounded list of events')
  t.same(
    ext.flatMap((p) => p.events.filter((e) => e.eventType === 'SHUTDOWN').map((e) => e.shutdownReason)),
    full.processes.filter((p) => p.name === 'well-behaved').flatMap((p) => p.events.filter((e) => e.eventType === 'SHUTDOWN').map((e) => e.shutdownReason)),
    'every SHUTDOWN event',
  )
  t.ok(summary.timeline.length < full.timeline.length / 20, `the timeline is bounded (${summary.timeline.length} of ${full.timeline.length} entries)`)
})
