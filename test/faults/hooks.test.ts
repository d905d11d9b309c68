// Faults (issue 7 "Hardening", item 3): a user's onTimeline hook that throws runs inside the
// harness's own steps; the run must go on as if it were not there, each throw reported as a warning.
import t from 'tap'
import type { TimelineEntry } from '../../harness/index.js'
import { extensionsDir, fn, startSandbox } from '../helpers.js'

t.test('an onTimeline hook that throws on every entry breaks nothing and is reported', async (t) => {
  const seen: TimelineEntry[] = []
  const warnings: string[] = []
  const sandbox = await startSandbox(
    t,
    { functionDir: fn('echo'), extensionsDir: extensionsDir(t, ['well-behaved']) },
    {
      warn: (message) => warnings.push(message),
      onTimeline: (entry) => {
        seen.push(entry)
        throw new Error(`no thanks: ${entry.kind}`)
      },
    },
  )
  t.match(await sandbox.invoke({ still: 'works' }), { status: 'success', response: '{"still": "works"}' })
  await sandbox.shutdown()
  const record = sandbox.record
  t.same(record.verdict, { clean: true, problems: [] })
  t.equal(seen.length, record.timeline.length, 'the hook saw every entry')
  t.same(
    [...seen].sort((a, b) => a.atMs - b.atMs).map((e) => e.detail),
    record.timeline.map((e) => e.detail),
    'the same entries as the record',
  )
  t.equal(warnings.filter((w) => w.startsWith('the onTimeline hook threw: Error: no thanks: ')).length, seen.length, 'each throw became a warning')
})
