// Faults (issue 7 "Hardening", item 3): the PostgreSQL probe's server is SIGKILLed mid-run, after
// an invoke that used it. The record says the probe failed (`probe-failed`), the sandbox still
// shuts down as Lambda would, the RunRecord is complete, and no PostgreSQL process is left.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { formatReport } from '../../harness/index.js'
import { descendants, statFields } from '../../harness/supervisor/process-groups.js'
import { extensionsDir, fn, startSandbox, until } from '../helpers.js'

/** Our children that run the PostgreSQL server binary: the probe's postmaster. */
function postmasters(): number[] {
  return descendants(process.pid).filter((pid) => pid !== process.pid && command(pid) === 'postgres' && parentOf(pid) === process.pid)
}

function command(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return undefined
  }
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return Number(statFields(stat)[1])
  } catch {
    return undefined
  }
}

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !['Z', 'X'].includes(statFields(stat)[0] ?? '')
  } catch {
    return false
  }
}

t.test('the PostgreSQL server SIGKILLed after an invoke that used it: probe-failed, a clean Shutdown, nothing left', async (t) => {
  const before = new Set(postmasters())
  const sandbox = await startSandbox(t, {
    functionDir: fn('pg-closes-on-sigterm'),
    extensionsDir: extensionsDir(t, ['well-behaved']),
    postgres: true,
    // The handler closes its connection on SIGTERM: give it time to, on a loaded machine.
    runtimeShutdownMs: 1500,
  })
  const used = await sandbox.invoke({})
  t.equal(used.status, 'success', 'the invoke queried the database')
  t.match(JSON.parse(used.response), { sessions: Number })

  const started = postmasters().filter((pid) => !before.has(pid))
  t.equal(started.length, 1, 'the sandbox started one PostgreSQL server')
  const postmaster = started[0]!
  // Its backends, checkpointer, writers…: all must go once it is gone.
  const server = descendants(postmaster)
  t.ok(server.length > 1, `the server runs as ${server.length} processes`)
  process.kill(postmaster, 'SIGKILL')

  const shutdown = await sandbox.shutdown()
  const record = sandbox.record
  t.comment(`problems: ${JSON.stringify(record.verdict.problems)}; Shutdown took ${shutdown.durationMs.toFixed(0)} ms`)
  t.match(
    record.verdict.problems,
    [{ code: 'probe-failed', message: /^the PostgreSQL probe failed: / }],
    'the one problem: the probe failed',
  )
  t.equal(record.resources.postgres, undefined, 'no session report from a dead server')
  t.match(shutdown.runtime, { exit: { code: 0, signal: null }, killed: false }, 'the runtime still exited through its SIGTERM handler')
  t.ok(record.timeline.some((e) => e.kind === 'output' && e.process === 'runtime' && e.detail === 'SIGTERM received: closing the database connection'))
  t.match(shutdown.extensions, [{ name: 'well-behaved', exit: { code: 0, signal: null }, state: 'Exited' }], 'the extension exited on SHUTDOWN')
  t.same(shutdown.orphans, [])
  for (const process of record.processes) {
    t.ok(process.exit !== null && process.exitedAtMs !== null, `${process.name} has its exit`)
  }
  t.same(JSON.parse(JSON.stringify(record)), record, 'the record survives JSON')
  t.match(formatReport(record), /✗ the PostgreSQL probe failed: /, 'the report names the failed probe')

  await sandbox.dispose()
  t.ok(await until(() => server.every((pid) => !alive(pid))), `no PostgreSQL process is left (of ${server.join(', ')})`)
  t.same(postmasters().filter((pid) => !before.has(pid)), [], 'and no new server')
})
