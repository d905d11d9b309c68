// `--image`: the sandbox boots on another root file system (a Debian root that make setup builds),
// and what cannot be a root is refused before anything starts (exit 2 from the CLI), leaving
// nothing in the image cache.
import { spawnSync } from 'node:child_process'
import { copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { boot } from '../../harness/index.js'
import { debianRoot, extensionsDir, fn, missingRoot, privateCacheHome, ROOT, startSandbox, tempDir, NO_BWRAP } from '../helpers.js'

const CLI = path.join(ROOT, 'dist', 'harness', 'cli.js')

interface Platform {
  osRelease: Record<string, string>
  version: string
  executable: string
  sysPath: string[]
}

function cacheEntries(cache: string): string[] {
  try {
    return readdirSync(path.join(cache, 'lambda-harness', 'images'))
  } catch {
    return []
  }
}

for (const [suite, python, codename, minor] of [
  ['trixie', '/usr/bin/python3.13', 'trixie', '3.13'],
  ['sid', '/usr/bin/python3.14', undefined, '3.14'],
] as const) {
  t.test(`a Debian ${suite} image: the handler sees its os-release, its Python ${minor} and its sys.path`, { skip: missingRoot(suite) ?? false }, async (t) => {
    const sandbox = await startSandbox(t, {
      functionDir: fn('reports-platform'),
      image: debianRoot(suite),
      python,
      runtime: `python${minor}`,
      extensionsDir: extensionsDir(t, ['well-behaved']),
    })
    t.equal(sandbox.record.init?.status, 'success')
    const invocation = await sandbox.invoke({})
    t.equal(invocation.status, 'success')
    const seen = JSON.parse(invocation.response) as Platform
    t.equal(seen.osRelease.ID, 'debian')
    if (codename !== undefined) {
      t.equal(seen.osRelease.VERSION_CODENAME, codename)
    }
    t.not(readFileSync('/etc/os-release', 'utf8'), Object.entries(seen.osRelease).map(([k, v]) => `${k}=${v}`).join('\n'), 'not the host\'s os-release')
    t.match(seen.version, new RegExp(`^${minor.replace('.', '\\.')}\\.\\d+$`))
    t.equal(seen.executable, python)
    t.equal(seen.sysPath[0], '/var/task')
    t.ok(seen.sysPath.includes(`/usr/lib/python${minor}`), `the image's standard library is on sys.path (${seen.sysPath.join(':')})`)
    t.notOk(seen.sysPath.some((p) => p.includes('python3.11')), 'nothing of the host\'s Python 3.11')
    await sandbox.shutdown()
    t.match(sandbox.record.shutdown?.extensions, [{ name: 'well-behaved', exit: { code: 0 } }], 'an extension from a layer runs in the same root')
    t.same(sandbox.record.verdict, { clean: true, problems: [] })
  })
}

t.test('a folder that is not a root file system (no /bin/sh) is refused', { skip: NO_BWRAP }, async (t) => {
  await t.rejects(boot({ functionDir: fn('echo'), handler: 'app.handler', image: fn('echo') }), {
    code: 'ERR_BAD_INPUT',
    message: `option image: ${JSON.stringify(fn('echo'))} cannot be the sandbox's root: it is not a root file system (it has no /bin/sh)`,
  })
})

t.test('a root whose --python is missing is refused, naming the interpreter', { skip: missingRoot('bullseye') ?? false }, async (t) => {
  // debootstrap's bullseye minbase has no Python.
  await t.rejects(boot({ functionDir: fn('echo'), handler: 'app.handler', image: debianRoot('bullseye'), python: 'python3' }), {
    code: 'ERR_INVALID_OPTION',
    message: /^option python: expected a Python interpreter inside the image .*bullseye, got "python3" \(.*No such file or directory\)$/,
  })
})

t.test('an image needs the sandbox: --no-isolation is refused with exit 2', async (t) => {
  const cli = spawnSync(process.execPath, [CLI, 'run', fn('echo'), '--handler', 'app.handler', '--image', '/', '--no-isolation'], { encoding: 'utf8' })
  t.equal(cli.status, 2)
  t.equal(cli.stderr, 'lambda-harness: option --image: expected the bwrap sandbox (the image is its root file system), got isolation "none" (--no-isolation)\n')
})

t.test('an image needs bwrap: without it on PATH, exit 2', async (t) => {
  const bin = tempDir(t, 'lh-nobwrap-')
  symlinkSync(process.execPath, path.join(bin, 'node'))
  const cli = spawnSync(process.execPath, [CLI, 'run', fn('echo'), '--handler', 'app.handler', '--image', '/'], { encoding: 'utf8', env: { ...process.env, PATH: bin } })
  t.equal(cli.status, 2)
  t.match(cli.stderr, /^lambda-harness: option --image: expected the bwrap sandbox \(the image is its root file system\), got no bwrap on PATH/)
})

t.test('a root whose /bin/sh asks for a newer kernel is refused (its GNU ABI note)', { skip: NO_BWRAP }, async (t) => {
  const root = tempDir(t, 'lh-newkernel-')
  mkdirSync(path.join(root, 'bin'))
  copyFileSync('/bin/dash', path.join(root, 'bin', 'sh'))
  const shell = readFileSync(path.join(root, 'bin', 'sh'))
  // NT_GNU_ABI_TAG: namesz 4, descsz 16, type 1, "GNU\0", os 0 (Linux), then major.minor.patch.
  const note = Buffer.from('040000001000000001000000474e550000000000', 'hex')
  const at = shell.indexOf(note)
  t.ok(at > 0, 'the host\'s dash carries an ABI note')
  shell.writeUInt32LE(99, at + note.length)
  writeFileSync(path.join(root, 'bin', 'sh'), shell)
  await t.rejects(boot({ functionDir: fn('echo'), handler: 'app.handler', image: root }), {
    code: 'ERR_BAD_INPUT',
    message: /cannot be the sandbox's root: it needs Linux 99\.\d+\.\d+ or newer \(its \/bin\/sh's ABI note\); this kernel is /,
  })
})

t.test('a tar with an escaping name is refused and leaves nothing in the image cache', { skip: NO_BWRAP }, async (t) => {
  const cache = privateCacheHome(t)
  const work = tempDir(t, 'lh-evil-')
  mkdirSync(path.join(work, 'root', 'bin'), { recursive: true })
  writeFileSync(path.join(work, 'root', 'bin', 'sh'), '#!/bin/true\n')
  writeFileSync(path.join(work, 'outside'), 'x')
  const tar = path.join(work, 'evil.tar')
  // GNU tar keeps "../outside" as given with -P.
  t.equal(spawnSync('tar', ['-cf', tar, '-P', '-C', path.join(work, 'root'), 'bin', '../outside']).status, 0)
  await t.rejects(boot({ functionDir: fn('echo'), handler: 'app.handler', image: tar }), { code: 'ERR_BAD_INPUT', message: /entry "\.\.\/outside": unsafe path: it has a "\.\." component/ })
  t.same(cacheEntries(cache), [], 'nothing left in the cache')
})

t.test('a flat tar of a root that cannot be one is removed from the cache again', { skip: NO_BWRAP }, async (t) => {
  const cache = privateCacheHome(t)
  const work = tempDir(t, 'lh-flat-')
  mkdirSync(path.join(work, 'root', 'etc'), { recursive: true })
  writeFileSync(path.join(work, 'root', 'etc', 'hosts'), '')
  const tar = path.join(work, 'no-shell.tar')
  t.equal(spawnSync('tar', ['-cf', tar, '-C', path.join(work, 'root'), '.']).status, 0)
  const cli = spawnSync(process.execPath, [CLI, 'run', fn('echo'), '--handler', 'app.handler', '--image', tar], { encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: cache } })
  t.equal(cli.status, 2)
  t.match(cli.stderr, /it is not a root file system \(it has no \/bin\/sh\)/)
  t.same(cacheEntries(cache), [], 'nothing left in the cache')
})

t.test('check of a well-behaved extension passes with an image', { skip: missingRoot('trixie') ?? false }, async (t) => {
  const { runCheck } = await import('../../harness/conformance/runner.js')
  const report = await runCheck({ target: path.join(ROOT, 'fixtures', 'extensions', 'well-behaved'), image: debianRoot('trixie'), python: '/usr/bin/python3.13', runtime: 'python3.13', manyInvokes: 20 })
  t.equal(report.summary.failed, 0, report.checks.filter((c) => c.outcome === 'fail').map((c) => `${c.id}: ${c.summary}`).join('; '))
  t.ok(report.summary.passed > 10)
  t.ok(report.scenarios.every((s) => s.record.timeline.some((e) => e.kind === 'phase' && e.detail.includes(`root of the image ${debianRoot('trixie')}`))), 'every scenario ran on the image')
})

t.test('--runtime-client image: a flat tar of a root with its own /var/runtime/bootstrap boots on that bootstrap', { skip: missingRoot('trixie') ?? false }, async (t) => {
  const trixie = debianRoot('trixie')
  const cache = privateCacheHome(t)
  const work = tempDir(t, 'lh-own-runtime-')
  // The trixie root plus a /var/runtime of its own: a bootstrap that runs a copy of our client from
  // there (Lambda's base images run awslambdaric the same way), marking that it was the one started.
  const runtime = path.join(work, 'var', 'runtime')
  mkdirSync(runtime, { recursive: true })
  copyFileSync(path.join(ROOT, 'harness', 'runtimes', 'python', 'bootstrap.py'), path.join(runtime, 'client.py'))
  cpSync(path.join(ROOT, 'harness', 'runtimes', 'python', 'lambda_harness_ric'), path.join(runtime, 'lambda_harness_ric'), { recursive: true })
  writeFileSync(path.join(runtime, 'bootstrap'), '#!/bin/sh\necho "the image\'s own bootstrap" >&2\nexec /usr/bin/python3.13 /var/runtime/client.py "$_HANDLER"\n', { mode: 0o755 })
  const tar = path.join(work, 'root.tar')
  const packed = spawnSync('tar', ['-cf', tar, '-C', trixie, '.', '-C', work, 'var/runtime'], { encoding: 'utf8' })
  t.equal(packed.status, 0, packed.stderr)
  const sandbox = await startSandbox(t, { functionDir: fn('echo'), image: tar, runtimeClient: 'image', runtime: 'python3.13' })
  t.same(sandbox.record.runtime.command, ['/var/runtime/bootstrap'])
  t.equal(sandbox.record.init?.status, 'success')
  const invocation = await sandbox.invoke({ hello: 'image' })
  t.equal(invocation.status, 'success')
  t.match(JSON.parse(invocation.response), { hello: 'image' })
  t.ok(sandbox.record.timeline.some((e) => e.process === 'runtime' && e.detail === "[stderr] the image's own bootstrap"), 'the image\'s bootstrap started the runtime, not ours')
  t.equal(cacheEntries(cache).length, 1, 'the tar was unpacked once into the cache')
})

t.test('run\'s preflight looks for --runtime-command inside the image, not on the host', { skip: missingRoot('trixie') ?? false }, async (t) => {
  // The host (Debian 12) has no /usr/bin/python3.13; the trixie image has.
  const cli = spawnSync(
    process.execPath,
    [CLI, 'run', fn('echo'), '--handler', 'app.handler', '--image', debianRoot('trixie'), '--runtime-command', '/usr/bin/python3.13 /var/runtime/bootstrap.py app.handler', '--quiet'],
    { encoding: 'utf8' },
  )
  t.equal(cli.stderr, '')
  t.equal(cli.status, 0)
})
