// What `check <extension file>` lets the sandbox see of the host: the file's folder, so helpers
// beside it load, but never a folder whose exposure would undo the sandbox's hiding (the private
// /tmp, /root, /home or a home folder, with the user's credentials in it): there, the file alone.
import { copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { resolveTarget } from '../../harness/conformance/target.js'

function extensionAt(t: Test, folder: string): string {
  const file = path.join(folder, `lh-target-${process.pid}-${Math.random().toString(36).slice(2)}`)
  writeFileSync(file, '#!/bin/sh\nexit 0\n', { mode: 0o755 })
  t.teardown(() => rmSync(file, { force: true }))
  return file
}

t.test('a file in a folder of its own: that folder is exposed', async (t) => {
  const folder = mkdtempSync(path.join(tmpdir(), 'lh-target-'))
  t.teardown(() => rmSync(folder, { recursive: true, force: true }))
  const target = await resolveTarget(extensionAt(t, folder))
  t.teardown(() => target.cleanup())
  t.same(target.expose, [realpathSync(folder)])
})

t.test('a file straight in /tmp, in a home folder, in /home or /root: the file alone', async (t) => {
  const homes = path.join('/home', `lh-target-home-${process.pid}`)
  mkdirSync(homes, { recursive: true })
  t.teardown(() => rmSync(homes, { recursive: true, force: true }))
  for (const folder of [tmpdir(), homedir(), homes, '/root']) {
    let file: string
    try {
      file = extensionAt(t, folder)
    } catch {
      continue // Not writable here (a non-root run): nothing to check in it.
    }
    const target = await resolveTarget(file)
    t.teardown(() => target.cleanup())
    t.same(target.expose, [realpathSync(file)], `${folder}: only the file`)
  }
})

t.test('a layer folder or zip exposes nothing', async (t) => {
  const layer = mkdtempSync(path.join(tmpdir(), 'lh-target-layer-'))
  t.teardown(() => rmSync(layer, { recursive: true, force: true }))
  mkdirSync(path.join(layer, 'extensions'))
  copyFileSync('/bin/true', path.join(layer, 'extensions', 'ext'))
  const target = await resolveTarget(layer)
  t.teardown(() => target.cleanup())
  t.same(target.expose, [])
})
