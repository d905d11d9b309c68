// Lambda's identity inside a bwrap sandbox (issue 16, items 2-4): the processes run as uid 993 in a
// user namespace with their own hostname and Lambda's limits, the host's sysctls and its private
// folders are out of reach, the holder cannot be signalled from inside, and a holder killed from
// outside is reported as such and replaced by a new sandbox at the next Init.
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import path from 'node:path'
import { execa } from 'execa'
import t from 'tap'
import type { Sandbox } from '../../harness/index.js'
import { extensionsDir, until, NO_BWRAP } from '../helpers.js'
import { bootIsolated, touch } from './isolated.js'

/** The host pid of the sandbox's pid 1, from the record's description of the sandbox. */
function initPidOf(sandbox: Sandbox): number {
  const phases = sandbox.record.timeline.filter((e) => e.kind === 'phase' && /pid 1 is host pid \d+/.test(e.detail))
  return Number(/pid 1 is host pid (\d+)/.exec(phases[phases.length - 1]?.detail ?? '')?.[1])
}

t.test('the processes run as uid 993 with a hostname of their own; the host\'s sysctls and low ports are out of reach', { skip: NO_BWRAP }, async (t) => {
  const sandbox = await bootIsolated(t)
  const before = hostname()
  t.match(await touch(sandbox, { op: 'identity' }), { uid: 993, gid: 990, euid: 993, hostname: /^169\.254\.\d{1,3}\.\d{1,3}$/ })
  // Open only, never write: where the open succeeds, a write would change the host.
  for (const target of ['/proc/sys/kernel/hostname', '/proc/sys/kernel/core_pattern', '/proc/sys/vm/drop_caches']) {
    t.match(await touch(sandbox, { op: 'open-for-writing', path: target }), { ok: false, errno: /^(EROFS|EACCES)$/ }, `${target} cannot be opened for writing`)
  }
  t.match(await touch(sandbox, { op: 'bind', port: 80 }), { ok: false, errno: 'EACCES' }, 'a port below 1024 cannot be bound, as on Lambda')
  t.match(await touch(sandbox, { op: 'new-user-namespace' }), { ok: true, code: 1, stderr: /unshare failed/ }, 'nor can a user namespace of its own be made')
  t.match(await touch(sandbox, { op: 'bind', port: 0 }), { ok: true }, 'a high port can')
  t.equal(hostname(), before, 'the host\'s hostname is untouched')
  t.match(sandbox.record.timeline.find((e) => e.kind === 'phase' && e.detail.startsWith('Sandbox: bwrap'))?.detail, /uid 993 gid 990 in a user namespace, hostname 169\.254\./)
})

t.test('Lambda\'s limits inside: 1024 descriptors (ulimit -n), 1024 processes, neither can be raised', { skip: NO_BWRAP }, async (t) => {
  const sandbox = await bootIsolated(t)
  t.same(await touch(sandbox, { op: 'limits' }), { ok: true, nofile: [1024, 1024], nproc: [1024, 1024], ulimitN: '1024' })
})

t.test('the function cannot signal the holder: it stays, and the sandbox keeps working', { skip: NO_BWRAP }, async (t) => {
  const sandbox = await bootIsolated(t, { extensionsDir: extensionsDir(t, ['well-behaved']) })
  const initPid = initPidOf(sandbox)
  for (const signal of ['SIGKILL', 'SIGTERM', 'SIGSTOP', 'SIGINT']) {
    const result = await sandbox.invoke({ op: 'signal', pid: 1, signal })
    t.equal(result.status, 'success', `${signal} to pid 1 (the holder) does not end the invoke`)
    // Whatever its pid inside, the holder is the runtime's parent: it started it.
    const parentResult = await sandbox.invoke({ op: 'signal-parent', signal })
    t.equal(parentResult.status, 'success', `${signal} to the runtime's parent does not end the invoke`)
  }
  t.doesNotThrow(() => process.kill(initPid, 0), 'the holder is alive')
  t.match((await sandbox.invoke({ op: 'where' })).status, 'success', 'and still starts and serves the processes')
  await sandbox.shutdown()
  t.same(sandbox.record.verdict, { clean: true, problems: [] })
})

t.test('the host\'s private folders are hidden, except what --expose names', { skip: NO_BWRAP }, async (t) => {
  const name = `lh-planted-${process.pid}-${randomBytes(4).toString('hex')}`
  const planted = path.join('/root', name)
  const exposed = path.join('/root', `${name}-exposed`)
  mkdirSync(exposed)
  writeFileSync(planted, 'a secret of the host')
  writeFileSync(path.join(exposed, 'shared.txt'), 'shared on purpose')
  t.teardown(() => rmSync(planted, { force: true }))
  t.teardown(() => rmSync(exposed, { recursive: true, force: true }))
  const sandbox = await bootIsolated(t, { expose: [exposed] })
  t.match(await touch(sandbox, { op: 'read', path: planted }), { ok: false, errno: 'ENOENT' }, 'a file planted under /root is not there')
  t.match(await touch(sandbox, { op: 'exists', path: '/root/.aws' }), { ok: true, exists: false })
  t.match(await touch(sandbox, { op: 'read', path: path.join(exposed, 'shared.txt') }), { ok: true, text: 'shared on purpose' }, 'an --expose path is')
  t.match(await touch(sandbox, { op: 'write', path: path.join(exposed, 'x') }), { ok: false, errno: 'EROFS' }, 'read-only')
  t.match(await touch(sandbox, { op: 'write', path: '/root/x' }), { ok: false, errno: 'EROFS' }, 'the hidden folder is read-only too')
  t.notOk(existsSync(path.join(exposed, 'x')))
})

t.test('a holder killed from outside: the record says so, blames no process, and the next Init builds a new sandbox', { skip: NO_BWRAP }, async (t) => {
  const sandbox = await bootIsolated(t, { extensionsDir: extensionsDir(t, ['well-behaved']) })
  t.equal((await sandbox.invoke({ op: 'where' })).status, 'success')
  const initPid = initPidOf(sandbox)
  process.kill(initPid, 'SIGKILL')
  t.ok(await until(() => sandbox.record.processes.every((p) => p.exit !== null)), 'every process ended with the sandbox')
  const results = [await sandbox.invoke({ op: 'where' }), await sandbox.invoke({ op: 'where' })]
  t.equal(results[results.length - 1]?.status, 'success', `a later invoke succeeds (${results.map((r) => r.status).join(', ')})`)
  t.not(initPidOf(sandbox), initPid, 'in a new sandbox')
  const record = sandbox.record
  const problems = record.verdict.problems
  t.match(problems.find((p) => p.code === 'sandbox-holder-killed'), {
    message: "the sandbox's holder was killed (SIGKILL) from outside the sandbox (its own processes cannot signal it): the sandbox and every process in it ended",
  })
  t.notOk(JSON.stringify(record).includes('Extension.Crash'), 'no extension is blamed')
  t.notOk(JSON.stringify(record).includes('Runtime.ExitError'), 'nor the runtime')
  await sandbox.shutdown()
})

t.test('an interpreter in a venv under a hidden folder, or under /tmp, stays usable; the rest stays hidden', { skip: NO_BWRAP }, async (t) => {
  for (const parent of ['/root', '/tmp']) {
    const venv = path.join(parent, `lh-venv-${process.pid}-${randomBytes(4).toString('hex')}`)
    await execa('/usr/bin/python3', ['-m', 'venv', '--without-pip', venv])
    t.teardown(() => rmSync(venv, { recursive: true, force: true }))
    const sandbox = await bootIsolated(t, { python: path.join(venv, 'bin', 'python3') })
    t.equal(sandbox.record.init?.status, 'success', `the runtime starts on ${venv}/bin/python3`)
    t.match(await touch(sandbox, { op: 'exists', path: path.join(venv, 'pyvenv.cfg') }), { ok: true, exists: true })
    if (parent === '/root') {
      t.match(await touch(sandbox, { op: 'list', path: '/root' }), { ok: true, names: [path.basename(venv)] }, 'nothing else of /root')
    }
    await sandbox.dispose()
  }
})
