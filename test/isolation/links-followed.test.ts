// A function folder or a layer folder whose links lead where the sandbox cannot follow them (out of
// /var/task or /opt, into the private /tmp or the hidden /root and /home): Lambda runs what a
// deploy zipped, and samcli's make_zip follows links, so the sandbox binds a copy with them
// followed. Bound as they were, a monorepo's `fn/shared.py -> ../shared/shared.py` failed Init
// with Runtime.ImportModuleError, and a layer's linked extension with Extension.LaunchError.
import { cpSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { LAYER_TEMP_PREFIX } from '../../harness/layers/layers.js'
import { ownerTag } from '../../harness/layers/temp-owner.js'
import { boot } from '../../harness/index.js'
import { EXTENSIONS, NO_BWRAP, PYTHON, fn, startSandbox, tempDir } from '../helpers.js'

/** This process's layer copies and unpacked zips in the temp folder. */
function ownCopies(): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith(`${LAYER_TEMP_PREFIX}${ownerTag()}`))
}

t.test('a function folder linking a module from beside it (../shared) imports it, as its deploy would', { skip: NO_BWRAP }, async (t) => {
  const repo = tempDir(t, 'lh-monorepo-')
  mkdirSync(path.join(repo, 'shared'))
  writeFileSync(path.join(repo, 'shared', 'shared_greeting.py'), 'GREETING = "from the shared folder"\n')
  mkdirSync(path.join(repo, 'fn'))
  writeFileSync(path.join(repo, 'fn', 'app.py'), 'from shared_greeting import GREETING\n\ndef handler(event, context):\n    return GREETING\n')
  symlinkSync('../shared/shared_greeting.py', path.join(repo, 'fn', 'shared_greeting.py'))
  const sandbox = await startSandbox(t, { functionDir: path.join(repo, 'fn'), isolation: 'bwrap' })
  t.equal(sandbox.record.init?.status, 'success', `Init: ${sandbox.record.init?.errorType ?? 'success'}`)
  const invocation = await sandbox.invoke({})
  t.equal(invocation.response, '"from the shared folder"')
  t.equal(ownCopies().length, 1, 'a copy is bound while the sandbox runs')
  const described = sandbox.record.timeline.find((entry) => entry.kind === 'phase' && entry.detail.startsWith('Sandbox: bwrap'))?.detail
  t.match(described, /a copy with its links followed: .*fn's link shared_greeting\.py leads where the sandbox cannot follow/, 'the record says why')
  await sandbox.dispose()
  t.same(ownCopies(), [], 'and removed with the sandbox')
})

t.test('a layer folder whose extension links to a file in another /tmp folder starts it', { skip: NO_BWRAP }, async (t) => {
  const build = tempDir(t, 'lh-build-')
  cpSync(path.join(EXTENSIONS, 'well-behaved'), path.join(build, 'well-behaved'))
  cpSync(path.join(EXTENSIONS, 'lib'), path.join(build, 'lib'), { recursive: true })
  const layer = tempDir(t, 'lh-linked-layer-')
  mkdirSync(path.join(layer, 'extensions'))
  symlinkSync(path.join(build, 'well-behaved'), path.join(layer, 'extensions', 'well-behaved'))
  symlinkSync(path.join(build, 'lib'), path.join(layer, 'extensions', 'lib'))
  const sandbox = await startSandbox(t, { functionDir: fn('echo'), layers: [layer], isolation: 'bwrap' })
  t.equal(sandbox.record.init?.status, 'success', `Init: ${sandbox.record.init?.errorType ?? 'success'}`)
  t.same(sandbox.record.init?.extensions.map((e) => `${e.name} ${e.state}`), ['well-behaved Ready'])
  t.ok(existsSync(path.join(layer, 'extensions', 'well-behaved')), "the user's folder is untouched")
})

t.test('a link that makes a cycle: the boot fails and says which folder and link, and leaves no copy', { skip: NO_BWRAP }, async (t) => {
  const repo = tempDir(t, 'lh-cycle-')
  mkdirSync(path.join(repo, 'fn'))
  writeFileSync(path.join(repo, 'fn', 'app.py'), 'def handler(event, context):\n    return 1\n')
  symlinkSync('..', path.join(repo, 'fn', 'repo'))
  await t.rejects(boot({ functionDir: path.join(repo, 'fn'), handler: 'app.handler', python: PYTHON, isolation: 'bwrap' }), {
    code: 'ERR_BAD_INPUT',
    message: /fn's link repo leads where the sandbox cannot follow, so it is bound as a deploy zips it, with its links followed, and that failed: .*links to a folder that holds it/,
  })
  t.same(ownCopies(), [], 'no copy left')
})

t.test('links the sandbox can follow leave the folder as it is', { skip: NO_BWRAP }, async (t) => {
  // The package's own fixtures are on the host's visible root: a link there works bound as it is.
  const layer = tempDir(t, 'lh-visible-links-')
  mkdirSync(path.join(layer, 'extensions'))
  symlinkSync(path.join(EXTENSIONS, 'well-behaved'), path.join(layer, 'extensions', 'well-behaved'))
  const sandbox = await startSandbox(t, { functionDir: fn('echo'), layers: [layer], isolation: 'bwrap' })
  t.equal(sandbox.record.init?.status, 'success')
  t.same(ownCopies(), [], 'no copy')
})
