// Isolated mode as Lambda's sandbox (issue "Isolation"): the function at /var/task, layers merged
// at /opt, the rest read-only (EROFS), a private sized /tmp that survives resets, `sandbox` and
// `sandbox.localdomain` on loopback, and a PID namespace that leaves nothing behind.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { statFields } from '../../harness/supervisor/process-groups.js'
import { formatReport, type RunRecord } from '../../harness/index.js'
import { ROOT, extensionsDir, fn, startSandbox, until, NO_BWRAP } from '../helpers.js'
import { bootIsolated, touch } from './isolated.js'
import { buildZip } from '../layers/zip-writer.js'
import { membersOf } from './processes.js'

const LAYERS = path.join(ROOT, 'fixtures', 'layers')

function outputOf(record: RunRecord, process: string): string[] {
  return record.timeline.filter((e) => e.kind === 'output' && e.process === process).map((e) => e.detail)
}



function tempLayer(t: Test, files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'lh-layer-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true })
    writeFileSync(path.join(root, name), text)
  }
  return root
}

t.test('the function runs at /var/task, reads its files there, and cannot write outside /tmp (EROFS)', { skip: NO_BWRAP }, async (t) => {
  const sandbox = await bootIsolated(t, { extensionsDir: extensionsDir(t, ['listens-on-sandbox-localdomain']) })
  t.equal(sandbox.record.init?.status, 'success')

  const where = await touch(sandbox, { op: 'where' })
  t.match(where, { cwd: '/var/task', taskRoot: '/var/task', runtimeDir: '/var/runtime', file: '/var/task/app.py' })
  t.same(where.hosts, { sandbox: '127.0.0.1', 'sandbox.localdomain': '127.0.0.1' }, '/etc/hosts names the sandbox')
  t.match(where.path, /:\/opt\/bin$/, 'PATH ends with /opt/bin as in Lambda')
  t.match(where.pythonPath, /^\/var\/runtime:\/opt\/python$/)
  const runtimePid = sandbox.record.processes.find((p) => p.name === 'runtime')?.pid ?? 0
  t.match(readFileSync(`/proc/${runtimePid}/cmdline`, 'utf8'), /\0\/var\/runtime\/bootstrap\.py\0app\.handler\0$/, 'the record\'s pid is the runtime itself')
  t.not(where.pid, runtimePid, 'the function sees its sandbox pid, the record the host pid')

  t.same(await touch(sandbox, { op: 'read', path: '/var/task/data.txt' }), { ok: true, text: 'read from the function\'s folder\n' })
  for (const target of ['/var/task/new.txt', '/var/runtime/x', '/opt/x', '/etc/x', '/x']) {
    t.match(await touch(sandbox, { op: 'write', path: target }), { ok: false, errno: 'EROFS' }, `writing ${target} fails with EROFS`)
  }
  t.notOk(existsSync(path.join(fn('touches-files'), 'new.txt')), 'nothing reached the function folder')

  const raised = await sandbox.invoke({ op: 'write', path: '/var/task/cache.json', raise: true })
  t.match(raised, { status: 'error', errorType: 'Runtime.Unknown' })
  t.match(JSON.parse(raised.response), { errorType: 'OSError', errorMessage: "[Errno 30] Read-only file system: '/var/task/cache.json'" })
  t.match(formatReport(sandbox.record), /Read-only file system: '\/var\/task\/cache\.json'/, 'the text report shows it')

  await sandbox.shutdown()
  const received = outputOf(sandbox.record, 'listens-on-sandbox-localdomain')
  t.ok(received.includes('listens-on-sandbox-localdomain listening on 127.0.0.1'), 'its listener bound sandbox.localdomain')
  t.ok(received.includes('listens-on-sandbox-localdomain received platform.start'), 'and received telemetry there')
  t.same(sandbox.record.verdict, { clean: true, problems: [] })
})

t.test('/tmp: writable, sized by ephemeralStorageMB (ENOSPC past it), private, and it survives a reset', { skip: NO_BWRAP }, async (t) => {
  const [one, two] = await Promise.all([bootIsolated(t), bootIsolated(t, { ephemeralStorageMB: 1024 })])
  const marker = `lh-marker-${process.pid}-${Date.now()}`
  t.same(await touch(one, { op: 'write', path: `/tmp/${marker}`, text: 'kept' }), { ok: true })
  t.notOk(existsSync(path.join(tmpdir(), marker)), 'the host\'s /tmp does not see it')
  t.same(await touch(two, { op: 'exists', path: `/tmp/${marker}` }), { ok: true, exists: false }, 'another sandbox does not see it')

  t.same(await touch(one, { op: 'size', path: '/tmp' }), { ok: true, bytes: 512 * 1024 * 1024 }, 'default: 512 MB, as Lambda')
  t.same(await touch(two, { op: 'size', path: '/tmp' }), { ok: true, bytes: 1024 * 1024 * 1024 })
  // posix_fallocate asks tmpfs for all the blocks at once: past the size it fails without filling memory.
  t.match(await touch(one, { op: 'allocate', path: '/tmp/big', bytes: 513 * 1024 * 1024 }), { ok: false, errno: 'ENOSPC' })
  t.same(await touch(one, { op: 'allocate', path: '/tmp/small', bytes: 1024 * 1024 }), { ok: true })

  const crashed = await one.invoke({ op: 'exit' })
  t.match(crashed, { status: 'error', errorType: 'Runtime.ExitError', resetReason: 'failure' })
  t.same(await touch(one, { op: 'read', path: `/tmp/${marker}` }), { ok: true, text: 'kept' }, '/tmp survived the reset')
  t.equal(one.record.resets.length, 1)
  t.equal(one.record.processes.filter((p) => p.name === 'runtime').length, 2, 'a second runtime read it')
})

t.test('layers merge at /opt in Lambda\'s order; an extension whose launcher execs /opt/<name>/… runs unmodified', { skip: NO_BWRAP }, async (t) => {
  const a = tempLayer(t, { 'python/shared.py': 'a', 'python/only_a.py': 'a' })
  const b = tempLayer(t, { 'python/shared.py': 'b' })
  const sandbox = await bootIsolated(t, { layers: [path.join(LAYERS, 'opt-launcher'), a, b] })
  t.equal(sandbox.record.init?.status, 'success', 'Init succeeded with the layer\'s extension')
  t.same(await touch(sandbox, { op: 'read', path: '/opt/python/shared.py' }), { ok: true, text: 'b' }, 'the later layer wins')
  t.same(await touch(sandbox, { op: 'list', path: '/opt/python' }), { ok: true, names: ['only_a.py', 'shared.py'] }, 'folders merge')
  t.same(await touch(sandbox, { op: 'list', path: '/opt' }), { ok: true, names: ['extensions', 'opt-launcher', 'python'] })
  await sandbox.shutdown()
  const record = sandbox.record
  const extension = record.shutdown?.extensions.find((e) => e.name === 'opt-launcher')
  t.match(extension, { state: 'Exited', exit: { code: 0, signal: null }, killed: false })
  t.same(extension?.events.map((e) => e.eventType), ['INVOKE', 'INVOKE', 'INVOKE', 'SHUTDOWN'])
  t.ok(outputOf(record, 'opt-launcher').includes('opt-launcher running from /opt/opt-launcher/extension.py'))
  t.same(record.verdict, { clean: true, problems: [] })
})

t.test('the same layer as a .zip runs unmodified too', { skip: NO_BWRAP }, async (t) => {
  const zip = path.join(mkdtempSync(path.join(tmpdir(), 'lh-zip-')), 'opt-launcher.zip')
  t.teardown(() => rmSync(path.dirname(zip), { recursive: true, force: true }))
  const file = (name: string) => ({ name, data: readFileSync(path.join(LAYERS, 'opt-launcher', name)), mode: 0o100755 })
  writeFileSync(zip, buildZip([{ name: 'extensions/' }, file('extensions/opt-launcher'), { name: 'opt-launcher/' }, file('opt-launcher/extension.py')]))
  const sandbox = await bootIsolated(t, { functionDir: fn('echo'), layers: [zip] })
  t.equal(sandbox.record.init?.status, 'success')
  await sandbox.shutdown()
  t.match(sandbox.record.shutdown?.extensions, [{ name: 'opt-launcher', state: 'Exited', exit: { code: 0, signal: null } }])
  t.ok(outputOf(sandbox.record, 'opt-launcher').includes('opt-launcher running from /opt/opt-launcher/extension.py'))
})

t.test('plain mode cannot run that layer: its launcher finds no /opt/<name> (why isolation is the default)', async (t) => {
  const warnings: string[] = []
  const sandbox = await startSandbox(t, { functionDir: fn('echo'), layers: [path.join(LAYERS, 'opt-launcher')], isolation: 'none' }, { warn: (w) => warnings.push(w) })
  t.match(sandbox.record.init, { status: 'error', errorType: 'Extension.Crash' })
  t.ok(outputOf(sandbox.record, 'opt-launcher').some((line) => /\/opt\/opt-launcher\/extension\.py: No such file or directory/.test(line)))
  t.equal(warnings.filter((w) => w.startsWith('isolation is off')).length, 1, 'one isolation warning')
})

t.test('a daemon an extension double-forks out of its group dies with the sandbox and is reported', { skip: NO_BWRAP }, async (t) => {
  const sandbox = await bootIsolated(t, { functionDir: fn('echo'), extensionsDir: extensionsDir(t, ['double-forks-daemon']) })
  await sandbox.invoke({})
  const daemonLine = () => outputOf(sandbox.record, 'double-forks-daemon').find((line) => line.startsWith('double-forks-daemon daemon '))
  // Printed before its first /event/next, but a pipe and a socket race: wait for the line itself.
  t.ok(await until(() => daemonLine() !== undefined), 'the extension printed its daemon\'s pid')
  const printed = daemonLine()
  const insidePid = printed?.split(' ').at(-1)
  const runtimePid = sandbox.record.processes.find((p) => p.name === 'runtime')?.pid ?? 0
  const namespace = readlinkSync(`/proc/${runtimePid}/ns/pid`)
  const daemon = membersOf(namespace).find((pid) => new RegExp(`^NSpid:\\s+${pid}\\s+${insidePid}$`, 'm').test(readFileSync(`/proc/${pid}/status`, 'utf8')))
  t.ok(daemon !== undefined, `the daemon (pid ${insidePid} in the sandbox) runs, host pid ${daemon}`)
  const extensionPid = sandbox.record.processes.find((p) => p.name === 'double-forks-daemon')?.pid
  const stat = readFileSync(`/proc/${daemon}/stat`, 'utf8')
  t.not(Number(statFields(stat)[2]), extensionPid, 'it left the extension\'s process group')

  const inside = membersOf(namespace)
  const shutdown = await sandbox.shutdown()
  t.match(shutdown.extensions[0], { name: 'double-forks-daemon', exit: { code: 0, signal: null }, state: 'Exited' })
  t.same(shutdown.orphans, [{ group: 'sandbox', pids: [daemon] }], 'the daemon is an orphan of the sandbox')
  t.match(sandbox.record.verdict.problems, [{ code: 'orphan-processes', process: 'sandbox' }])
  // By pid, not by namespace: a namespace's inode number is reused once it is gone.
  t.same(inside.filter((pid) => existsSync(`/proc/${pid}`)), [], `nothing of the sandbox is left (before: ${inside.join(', ')})`)
  t.ok(inside.includes(daemon!), 'the daemon was among them')
})

t.test('orphans the Shutdown SIGKILLs are gone, reaped, when shutdown() resolves, even with pid 1 slow to reap them', { skip: NO_BWRAP }, async (t) => {
  let initPid = 0
  // pid 1 is the holder, which reports each exit: stopped once it has reported the extension's,
  // it reaps nothing more, and the orphan the Shutdown then SIGKILLs stays a zombie until the sandbox ends.
  const onTimeline = (entry: { kind: string; process?: string }) => {
    if (entry.kind === 'exit' && entry.process === 'spawns-child' && initPid > 0) {
      process.kill(initPid, 'SIGSTOP')
    }
  }
  const sandbox = await startSandbox(t, { functionDir: fn('echo'), extensionsDir: extensionsDir(t, ['spawns-child']), isolation: 'bwrap' }, { onTimeline })
  t.equal((await sandbox.invoke({})).status, 'success')
  initPid = Number(/pid 1 is host pid (\d+)/.exec(sandbox.record.timeline.find((e) => e.kind === 'phase' && e.detail.startsWith('Sandbox: bwrap'))?.detail ?? '')?.[1])
  t.ok(initPid > 0, `pid 1 is host pid ${initPid}`)
  const shutdown = await sandbox.shutdown({ reason: 'spindown' })
  const orphans = shutdown.orphans.flatMap((orphan) => orphan.pids)
  t.ok(orphans.length > 0, `the extension's child was left and killed: ${orphans.join(', ')}`)
  for (const pid of orphans) {
    t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `pid ${pid} is gone, not a zombie`)
  }
})
