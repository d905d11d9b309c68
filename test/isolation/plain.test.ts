// Plain mode: the processes run on the host as before isolation existed, with one warning that
// names what differs; 'auto' falls back to it where bwrap is missing, 'bwrap' refuses to.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import { startIsolation, userNamespaceHint } from '../../harness/isolation/isolation.js'
import { isHarnessError } from '../../harness/index.js'
import { validateOptions } from '../../harness/config/options.js'
import { ROOT, extensionsDir, fn, startSandbox, until, NO_BWRAP } from '../helpers.js'
import { parentOf } from './processes.js'

const PLAIN_WARNING =
  'isolation is off (isolation: "none", --no-isolation): the processes run as plain host processes, unlike Lambda\'s sandbox: ' +
  'the function is at its own folder instead of /var/task and layers at theirs instead of /opt (launchers that exec /opt/… fail), ' +
  'the root file system is writable (Lambda allows writes only in /tmp), /tmp is the host\'s, shared and unsized, ' +
  'the network is the host\'s, shared with every other sandbox (a fixed port an extension binds, such as 4243, collides, ' +
  'and the APIs are on an ephemeral host port instead of 127.0.0.1:9001), ' +
  'and `sandbox` and `sandbox.localdomain` resolve only if the host defines them'

t.test('isolation "none": host paths, one warning with its exact text, the lifecycle as before', async (t) => {
  const warnings: string[] = []
  const functionDir = fn('touches-files')
  const sandbox = await startSandbox(t, { functionDir, isolation: 'none', extensionsDir: extensionsDir(t, ['well-behaved']) }, { warn: (w) => warnings.push(w) })
  t.same(warnings.filter((w) => w.startsWith('isolation')), [PLAIN_WARNING], 'exactly one isolation warning')
  t.ok(sandbox.record.warnings.includes(PLAIN_WARNING), 'and it is in the record')
  const where = JSON.parse((await sandbox.invoke({ op: 'where' })).response) as Record<string, unknown>
  t.match(where, { cwd: functionDir, taskRoot: functionDir, file: `${functionDir}/app.py` })
  const shutdown = await sandbox.shutdown()
  t.match(shutdown, { runtime: { signals: [{ signal: 'SIGTERM' }] }, extensions: [{ name: 'well-behaved', state: 'Exited', exit: { code: 0, signal: null } }], orphans: [] })
  t.same(sandbox.record.verdict, { clean: true, problems: [] })
})

t.test('"auto" falls back to plain processes where bwrap is missing; "bwrap" refuses', async (t) => {
  const path = process.env.PATH
  t.teardown(() => {
    process.env.PATH = path
  })
  process.env.PATH = '/nonexistent'
  const input = { functionDir: fn('echo'), layers: [], ephemeralStorageMB: 512 }
  const auto = await startIsolation({ ...input, mode: 'auto' })
  t.equal(auto.isolation.mode, 'none')
  t.match(auto.warning, /^isolation is off \(bwrap was not found on PATH; on Debian\/Ubuntu: apt-get install bubblewrap\): the processes run as plain host processes/)
  await t.rejects(startIsolation({ ...input, mode: 'bwrap' }), { code: 'ERR_SPAWN_FAILED', message: /^isolation "bwrap": bwrap was not found on PATH/ })
})

t.test('a --runtime-command under /tmp runs isolated: its folder is seen read-only through the private /tmp', { skip: NO_BWRAP }, async (t) => {
  const scratch = mkdtempSync(path.join('/tmp', 'lh-scratch-'))
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }))
  const command = path.join(scratch, 'run-runtime')
  writeFileSync(command, '#!/bin/sh\necho "runtime from $0" >&2\nexec /usr/bin/python3 /var/runtime/bootstrap.py "$_HANDLER"\n', { mode: 0o755 })
  writeFileSync(path.join(scratch, 'other-file'), 'private')
  const warnings: string[] = []
  const sandbox = await startSandbox(t, { functionDir: fn('touches-files'), isolation: 'auto', runtimeCommand: [command] }, { warn: (w) => warnings.push(w) })
  t.same(warnings.filter((w) => w.startsWith('isolation')), [], 'no isolation warning: it runs in the sandbox')
  t.match(sandbox.record.timeline.find((e) => e.kind === 'phase' && e.detail.startsWith('Sandbox:'))?.detail, /^Sandbox: bwrap/)
  const where = JSON.parse((await sandbox.invoke({ op: 'where' })).response) as Record<string, unknown>
  t.match(where, { cwd: '/var/task', taskRoot: '/var/task' })
  t.match(JSON.parse((await sandbox.invoke({ op: 'write', path: path.join(scratch, 'x') })).response), { ok: false, errno: 'EROFS' }, 'the folder is read-only')
  // A checkout under /tmp (CI's clone) is seen too, read-only at its own path: the harness's own files.
  const checkout = ROOT.startsWith('/tmp/') ? [ROOT.split('/')[2] as string] : []
  const listed = JSON.parse((await sandbox.invoke({ op: 'list', path: '/tmp' })).response) as { ok: boolean; names: string[] }
  t.same(listed, { ok: true, names: [path.basename(scratch), ...checkout].sort() }, 'the rest of the host\'s /tmp stays out of sight')
  t.ok(sandbox.record.timeline.some((e) => e.kind === 'output' && e.detail.includes(`runtime from ${command}`)), 'the command ran from its own path')
  await sandbox.shutdown()
  t.same(sandbox.record.verdict, { clean: true, problems: [] })
})

t.test('options: isolation and ephemeralStorageMB are validated, with Lambda\'s range', async (t) => {
  const base = { functionDir: fn('echo'), handler: 'app.handler' }
  t.match(validateOptions(base), { isolation: 'auto', ephemeralStorageMB: 512 })
  t.match(validateOptions({ ...base, isolation: 'none', ephemeralStorageMB: 10240 }), { isolation: 'none', ephemeralStorageMB: 10240 })
  const refused = (options: object) => {
    try {
      validateOptions({ ...base, ...options })
    } catch (error) {
      return isHarnessError(error, 'ERR_INVALID_OPTION') ? error.message : `not ERR_INVALID_OPTION: ${String(error)}`
    }
    return 'accepted'
  }
  t.equal(refused({ isolation: 'docker' }), 'option isolation: expected auto | bwrap | none, got "docker"')
  t.equal(refused({ ephemeralStorageMB: 511 }), 'option ephemeralStorageMB: expected a number from 512 to 10240, got 511')
  t.equal(refused({ ephemeralStorageMB: 600.5 }), 'option ephemeralStorageMB: expected a whole number of MB from 512 to 10240, got 600.5')
})

/** Boots a plain sandbox whose extension double-forks a daemon; returns it and a liveness check for the daemon. */
async function withDaemon(t: Test) {
  const sandbox = await startSandbox(t, { functionDir: fn('echo'), isolation: 'none', extensionsDir: extensionsDir(t, ['double-forks-daemon']) })
  await sandbox.invoke({})
  const daemonLine = () => sandbox.record.timeline.map((entry) => / daemon (\d+)$/.exec(entry.detail)?.[1]).find((pid) => pid !== undefined)
  t.ok(await until(() => daemonLine() !== undefined), 'the extension named its daemon')
  const daemon = Number(daemonLine())
  const alive = () => parentOf(daemon) !== undefined
  t.teardown(() => {
    if (alive()) {
      process.kill(daemon, 'SIGKILL')
    }
  })
  t.ok(alive(), `the daemon ${daemon} runs while the extension does`)
  return { sandbox, alive, daemon }
}

t.test('isolation "none": a daemon forked out of its group (fork, setsid, fork) outlives its extension and dies with the sandbox, recorded', async (t) => {
  const { sandbox, alive, daemon } = await withDaemon(t)
  const shutdown = await sandbox.shutdown()
  t.match(shutdown.extensions, [{ name: 'double-forks-daemon', state: 'Exited', exit: { code: 0, signal: null } }])
  // Held by the extension's launcher past the extension's exit, as a bwrap sandbox's pid 1 holds it.
  t.same(shutdown.orphans, [{ group: 'sandbox', pids: [daemon] }], 'the daemon is an orphan of the sandbox')
  t.ok(await until(() => !alive()), 'the daemon is gone, not left to init')
})

t.test('isolation "none": dispose() without a shutdown leaves no daemon either', async (t) => {
  const { sandbox, alive } = await withDaemon(t)
  await sandbox.dispose()
  t.ok(await until(() => !alive()), 'the daemon is gone, not left to init')
})

t.test('where user namespaces are refused (Ubuntu 23.10+ AppArmor), the fallback says how to enable isolation', async (t) => {
  const hint = userNamespaceHint('bwrap exited (code 1): bwrap: setting up uid map: Permission denied', false)
  t.match(hint, /^; to enable isolation, allow unprivileged user namespaces: `sudo sysctl -w kernel\.apparmor_restrict_unprivileged_userns=0` .*AppArmor profile that allows `userns`/)
  t.match(userNamespaceHint('bwrap exited (code 1): something else', true), /apparmor_restrict_unprivileged_userns=0/, 'named whenever the restriction is on')
  t.equal(userNamespaceHint('bwrap was not found on PATH', false), '', 'and only then')
})
