// `check <layer folder>` whose links lead out of it, as a developer links a built extension into
// the layer: Lambda gets what a deploy zips (samcli's make_zip follows links), so the sandbox binds
// that copy; bound as /opt as it was, the links pointed at nothing and every scenario failed to launch.
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
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
