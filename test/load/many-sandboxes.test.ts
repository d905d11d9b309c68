// Load: 20 sandboxes at once in one Node process (the default, bwrap isolation), each doing 50
// invokes and a shutdown, some with extensions. Every response must be its own event's, every
// record complete and clean, and afterwards this process must hold no more fds or listening
// sockets than before and have no child processes left.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { isDeepStrictEqual } from 'node:util'
import t from 'tap'
import type { RunRecord, Sandbox } from '../../harness/index.js'
import { descendants } from '../../harness/supervisor/process-groups.js'
import { extensionsDir, fn, groupMembers, startSandbox, until, NO_BWRAP } from '../helpers.js'

const SANDBOXES = 20
const INVOKES = 50
/** Which sandboxes get which extensions: a quarter get one, a quarter two, half none. */
const EXTENSIONS_BY_SANDBOX = (index: number): string[] => [[], ['well-behaved'], [], ['well-behaved', 'prints-events']][index % 4]!

function openFds(): number {
  return readdirSync('/proc/self/fd').length
}

/** This process's listening TCP sockets: its socket fds whose inode /proc/net/tcp{,6} lists in state LISTEN (0A). */
function listeningSockets(): number {
  const listening = new Set<string>()
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = ''
    try {
      text = readFileSync(table, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      if (fields[3] === '0A' && fields[9] !== undefined) {
        listening.add(fields[9])
      }
    }
  }
  let count = 0
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1]
      if (inode !== undefined && listening.has(inode)) {
        count++
      }
    } catch {
      // Closed while we looked (readdir's own fd, for one).
    }
  }
  return count
}

/** A response body as JSON, or the text itself when it is not JSON. */
function parsed(body: string): unknown {
  try {
    return JSON.parse(body) as unknown
  } catch {
    return body
  }
}

/** Processes this one has started that are still running (descendants, without itself). */
function childProcesses(): number[] {
  return descendants(process.pid).filter((pid) => pid !== process.pid)
}

/** Everything wrong with one sandbox's record, as messages (empty when it is complete and clean). */
function recordProblems(index: number, record: RunRecord, extensions: readonly string[]): string[] {
  const problems: string[] = []
  const say = (what: string) => problems.push(`sandbox ${index}: ${what}`)
  if (record.init?.status !== 'success') {
    say(`init ${record.init?.status ?? 'missing'}`)
  }
  if (record.invocations.length !== INVOKES) {
    say(`${record.invocations.length} invocations recorded, not ${INVOKES}`)
  }
  const failed = record.invocations.filter((invocation) => invocation.status !== 'success')
  if (failed.length > 0) {
    say(`${failed.length} invocations not successful: ${failed.map((f) => `${f.status} ${f.errorType ?? ''}`).join(', ')}`)
  }
  if (record.resets.length > 0) {
    say(`${record.resets.length} resets`)
  }
  if (record.shutdown === null || !record.shutdown.final) {
    say('no final shutdown')
  } else if (record.shutdown.orphans.length > 0) {
    say(`orphans ${JSON.stringify(record.shutdown.orphans)}`)
  }
  const names = record.processes.map((p) => p.name).sort()
  if (JSON.stringify(names) !== JSON.stringify(['runtime', ...extensions].sort())) {
    say(`processes ${names.join(', ')}`)
  }
  for (const p of record.processes) {
    if (p.pid === null || p.exit === null) {
      say(`${p.name}: pid ${p.pid}, exit ${JSON.stringify(p.exit)}`)
    }
    if (p.kind === 'extension' && (p.state !== 'Exited' || p.exit?.code !== 0)) {
      say(`${p.name}: ${p.state}, exit ${JSON.stringify(p.exit)}`)
    }
  }
  if (!record.verdict.clean) {
    say(`verdict ${JSON.stringify(record.verdict.problems)}`)
  }
  return problems
}

t.test(`${SANDBOXES} sandboxes at once, ${INVOKES} invokes each, then shutdown: all correct, nothing leaks`, async (t) => {
  const fdsBefore = openFds()
  const listeningBefore = listeningSockets()
  const childrenBefore = childProcesses()
  // The exit hook (signal-exit) listens for signals while any process group is live, and must stop after.
  const signalListenersBefore = process.listenerCount('SIGTERM')
  const startedAt = performance.now()
  let listeningDuring = 0
  let fdsDuring = 0
  let isolated = 0
  const mismatches: string[] = []
  const problems: string[] = []
  const pids: number[] = []

  const run = async (index: number): Promise<void> => {
    const extensions = EXTENSIONS_BY_SANDBOX(index)
    const sandbox: Sandbox = await startSandbox(t, {
      functionDir: fn('echo'),
      functionName: `load-${index}`,
      ...(extensions.length === 0 ? {} : { extensionsDir: extensionsDir(t, extensions) }),
    })
    for (let n = 0; n < INVOKES; n++) {
      const event = { sandbox: index, n, nonce: Math.random().toString(36).slice(2) }
      const result = await sandbox.invoke(event)
      if (result.status !== 'success' || !isDeepStrictEqual(parsed(result.response), event)) {
        mismatches.push(`sandbox ${index} invoke ${n}: ${result.status} ${result.response.slice(0, 200)}`)
      }
    }
    listeningDuring = Math.max(listeningDuring, listeningSockets())
    fdsDuring = Math.max(fdsDuring, openFds())
    isolated += sandbox.record.timeline.some((entry) => entry.detail.startsWith('Sandbox: bwrap')) ? 1 : 0
    await sandbox.shutdown()
    problems.push(...recordProblems(index, sandbox.record, extensions))
    pids.push(...sandbox.record.processes.map((p) => p.pid).filter((pid): pid is number => pid !== null))
    await sandbox.dispose()
  }

  const outcomes = await Promise.allSettled(Array.from({ length: SANDBOXES }, (_, index) => run(index)))
  const wallMs = performance.now() - startedAt
  const rejected = outcomes.flatMap((outcome, index) => (outcome.status === 'rejected' ? [`sandbox ${index}: ${String(outcome.reason)}`] : []))
  t.same(rejected, [], 'every sandbox booted, invoked and shut down without a harness error')
  t.equal(isolated, NO_BWRAP ? 0 : SANDBOXES, NO_BWRAP ? 'no bwrap: every sandbox ran as plain processes' : 'every sandbox ran in bwrap isolation (the default)')
  t.same(mismatches, [], `all ${SANDBOXES * INVOKES} responses are their own events`)
  t.same(problems, [], 'every record is complete and clean')

  // Closed sockets and reaped pipes are released asynchronously: wait for it, bounded.
  const settled = await until(() => openFds() <= fdsBefore && listeningSockets() <= listeningBefore && childProcesses().length <= childrenBefore.length, 10_000)
  const fdsAfter = openFds()
  const listeningAfter = listeningSockets()
  t.comment(`wall time ${(wallMs / 1000).toFixed(1)} s for ${SANDBOXES} sandboxes × ${INVOKES} invokes (${((SANDBOXES * INVOKES) / (wallMs / 1000)).toFixed(0)} invokes/s overall)`)
  t.comment(`fds: ${fdsBefore} before, ${fdsDuring} at the peak, ${fdsAfter} after; listening sockets: ${listeningBefore} before, ${listeningDuring} at the peak, ${listeningAfter} after`)
  t.ok(settled, 'fds, listening sockets and child processes are back to where they were within 10 s')
  t.equal(fdsAfter, fdsBefore, 'no fd leak')
  t.equal(listeningAfter, listeningBefore, 'no listening socket left')
  t.same(childProcesses(), childrenBefore, 'no child process left')
  t.equal(process.listenerCount('SIGTERM'), signalListenersBefore, 'the exit hook is removed again')
  t.same(pids.flatMap((pid) => groupMembers(pid)), [], 'no process of any sandbox\'s groups left')
})
