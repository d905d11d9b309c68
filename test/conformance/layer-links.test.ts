// `check <layer folder>` whose links lead out of it, as a developer links a built extension into
// the layer: Lambda gets what a deploy zips (samcli's make_zip follows links), so check runs that
// copy; bound as /opt as it is, the links point at nothing and every scenario failed to launch.
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { resolveTarget } from '../../harness/conformance/target.js'
import { check, failed, fixture } from './suite.js'
import { EXTENSIONS } from '../helpers.js'

t.test('a layer folder linking its extension and its helpers from outside it passes as its deploy would', async (t) => {
  // The sandbox's /tmp is its own: the built extension sits where the sandbox cannot follow a link.
  const build = mkdtempSync(path.join(tmpdir(), 'lh-layer-build-'))
  t.teardown(() => rmSync(build, { recursive: true, force: true }))
  cpSync(fixture('well-behaved'), path.join(build, 'well-behaved'))
  cpSync(path.join(EXTENSIONS, 'lib'), path.join(build, 'lib'), { recursive: true })
  const layer = mkdtempSync(path.join(tmpdir(), 'lh-layer-links-'))
  t.teardown(() => rmSync(layer, { recursive: true, force: true }))
  mkdirSync(path.join(layer, 'extensions'))
  // well-behaved finds its kit in lib/ beside its real path: an absolute link to the file, a ../ link to the folder.
  symlinkSync(path.join(build, 'well-behaved'), path.join(layer, 'extensions', 'well-behaved'))
  symlinkSync(path.relative(path.join(layer, 'extensions'), path.join(build, 'lib')), path.join(layer, 'extensions', 'lib'))
  const report = await check(t, layer, { only: ['registers', 'invoke', 'shutdown-spindown'] })
  t.same(failed(report), [], 'nothing fails')
  t.ok(report.ok, 'the layer passes')
  t.same(report.target.extensions, ['well-behaved'])
})

t.test('the copy is made only when a link leaves the folder, and removed by cleanup', async (t) => {
  const layer = mkdtempSync(path.join(tmpdir(), 'lh-layer-links-'))
  t.teardown(() => rmSync(layer, { recursive: true, force: true }))
  mkdirSync(path.join(layer, 'extensions'))
  symlinkSync(fixture('well-behaved'), path.join(layer, 'extensions', 'well-behaved'))
  const copied = await resolveTarget(layer)
  t.not(copied.layerRoot, layer, 'a link out of it: a copy')
  await copied.cleanup()
  t.notOk(existsSync(copied.layerRoot), 'cleanup removes the copy')
  rmSync(path.join(layer, 'extensions', 'well-behaved'))
  symlinkSync('../bin/ext', path.join(layer, 'extensions', 'ext'))
  const asIs = await resolveTarget(layer)
  t.equal(asIs.layerRoot, layer, 'links that stay inside it: the folder as it is')
  await asIs.cleanup()
  t.ok(existsSync(layer), "cleanup never touches the user's folder")
})
