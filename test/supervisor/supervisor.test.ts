// The supervisor's order of events: a process's start is heard of before anything it says, even
// when its first line is read before the report of its start (they come on separate pipes, and
// one poll of the event loop can hand over the line first); the record's timeline and every
// test that acts on a process's pid when it prints a line depend on it.
import t from 'tap'
import { ENTER_BINARY, HOLDER_BINARY, findBwrap } from '../../harness/isolation/launcher.js'
import { PlainHost } from '../../harness/isolation/plain-host.js'
import { SupervisedProcess, type ProcessHost, type SpawnSpec, type SupervisorHooks } from '../../harness/supervisor/supervisor.js'
import { namespace } from '../isolation/starting.js'

const plain = new PlainHost(ENTER_BINARY)

/** Runs `script` in sh and returns what the hooks heard, in order. */
async function heard(host: ProcessHost, script: string): Promise<{ events: string[]; process: SupervisedProcess }> {
  const events: string[] = []
  const hooks: SupervisorHooks = {
    now: () => performance.now(),
    onStarted: (process) => events.push(`started ${process.pid}`),
    onLine: (_process, stream, line) => events.push(`${stream} ${line}`),
    onExit: (_process, exit) => events.push(`exit ${exit.code ?? exit.signal}`),
  }
  const spec: SpawnSpec = { name: 'p', kind: 'extension', file: '/bin/sh', args: ['-c', script], cwd: '/', env: { PATH: '/usr/bin:/bin' } }
  const process = new SupervisedProcess(spec, host, hooks)
  t.teardown(() => process.destroy())
  await process.exited
  await process.outputEnded
  return { events, process }
}

t.test('a start reported after the process has already printed and exited is still heard of first', async (t) => {
  // The report of the start is held back until the process has ended: its lines are read meanwhile.
  const late: ProcessHost = {
    launch: (spec) =>
      plain.launch(spec).then(async (started) => {
        if ('pid' in started) {
          await started.ended
        }
        return started
      }),
  }
  const { events, process } = await heard(late, 'echo first; echo second >&2; echo third; exit 3')
  t.equal(events[0], `started ${process.pid}`)
  t.same(events.slice(1).sort(), ['exit 3', 'stderr second', 'stdout first', 'stdout third'])
  t.ok(events.indexOf('stdout first') < events.indexOf('stdout third'), 'its lines in their order')
  t.same(process.tail.sort(), ['first', 'second', 'third'], 'and in the tail')
})

t.test('a process the launcher or the holder starts is heard of before its lines too', async (t) => {
  const hosts: [string, ProcessHost][] = [['launcher', plain]]
  if (findBwrap() !== undefined) {
    hosts.push(['holder', (await namespace(t, HOLDER_BINARY)).host])
  }
  for (const [label, host] of hosts) {
    const { events, process } = await heard(host, 'echo hello')
    t.equal(events[0], `started ${process.pid}`, label)
    t.ok(events.includes('stdout hello'), label)
  }
})

t.test('a process that never started is never heard of as started', async (t) => {
  const events: string[] = []
  const spec: SpawnSpec = { name: 'p', kind: 'extension', file: '/nonexistent/file', args: [], cwd: '/', env: {} }
  const process = new SupervisedProcess(spec, plain, {
    now: () => performance.now(),
    onStarted: () => events.push('started'),
    onLine: () => events.push('line'),
    onExit: (_process, exit) => events.push(`exit ${exit.code}`),
  })
  t.teardown(() => process.destroy())
  t.match(await process.launched, { code: 'ENOENT' })
  await process.exited
  t.same(events, ['exit 127'])
})
