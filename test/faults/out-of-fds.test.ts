// The harness's own descriptors (issue 16, item 3): its soft RLIMIT_NOFILE is its hard limit (Node
// raises it at start), and if it still runs out (EMFILE on accept, on a pipe) that is its own fault in
// the verdict (`harness-out-of-fds`, Sandbox.Failure), never an Extension.Crash of the extension
// whose connection it could not take.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { execa } from 'execa'
import t from 'tap'
import type { RunRecord } from '../../harness/index.js'
import { findExecutable } from '../../harness/isolation/launcher.js'
import { descendants } from '../../harness/supervisor/process-groups.js'
import { ROOT, extensionsDir, fn, until } from '../helpers.js'

const CLI = path.join(ROOT, 'dist', 'harness', 'cli.js')

/** The host pid of a descendant of `root` whose command line names `name` and that sleeps in sigwait (for SIGUSR2). */
function waitingProcess(root: number, name: string): number | undefined {
  return descendants(root).find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(name) && readFileSync(`/proc/${pid}/wchan`, 'utf8').startsWith('do_sigtimedwait')
    } catch {
      return false
    }
  })
}

// The extension is found by its sigwait; in plain mode its launcher waits the same way and would take the SIGUSR2.
t.test('a harness out of descriptors says so, and blames no extension', { skip: findExecutable('bwrap') === undefined && 'no bwrap: the extension is told apart from its launcher only in the sandbox' }, async (t) => {
  const extensions = extensionsDir(t, ['opens-many-connections'])
  const run = execa(
    'env',
    ['-u', 'NODE_OPTIONS', process.execPath, CLI, 'run', fn('echo'), '--handler', 'app.handler', '--python', '/usr/bin/python3', '--extensions', extensions, '--json', '-', '--quiet'],
    { reject: false, timeout: 60_000, env: { CONNECTIONS: '400' } },
  )
  t.teardown(() => run.kill('SIGKILL'))
  let extension: number | undefined
  t.ok(await until(() => (extension = waitingProcess(run.pid!, 'opens-many-connections')) !== undefined, 20_000), 'the extension waits')
  // The harness has its usual limit when the sandbox starts (the sandbox keeps Lambda's 1024);
  // then it drops to 150, and the extension's 400 connections exhaust the harness, not the extension.
  await execa('prlimit', ['--pid', String(run.pid), '--nofile=150:150'])
  process.kill(extension!, 'SIGUSR2')
  const result = await run
  t.equal(result.exitCode, 1, `the verdict is not clean (stderr: ${result.stderr.slice(0, 400)})`)
  const record = JSON.parse(result.stdout) as RunRecord
  t.ok(record.timeline.some((e) => e.kind === 'output' && /holds \d+ connections/.test(e.detail)), 'the extension opened its connections')
  const problem = record.verdict.problems.find((p) => p.code === 'harness-out-of-fds')
  t.match(problem?.message, /^the harness ran out of file descriptors \(the processes' connections to the API took its descriptors up to fd \d+; its limit is 150\)/, 'the verdict names the harness and the cause')
  t.notOk(JSON.stringify(record).includes('Extension.Crash'), 'no extension is blamed')
})

t.test('the harness runs with its soft descriptor limit raised to the hard one (Node does it at start)', async (t) => {
  const script = `import { ownFdLimit } from ${JSON.stringify(path.join(ROOT, 'dist', 'harness', 'sandbox', 'fd-limit.js'))}
console.log(JSON.stringify(ownFdLimit()))`
  const result = await execa('prlimit', ['--nofile=64:4096', '--', 'env', '-u', 'NODE_OPTIONS', process.execPath, '--input-type=module', '-e', script], { timeout: 30_000 })
  t.same(JSON.parse(result.stdout), { soft: 4096, hard: 4096 })
})
