// A layer folder as a deploy ships it (samcli's make_zip walks with followlinks=True): which links
// leave the folder, and the copy with them followed.
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { copyFollowingLinks, leavingLinks } from '../../harness/layers/follow-links.js'

function folder(t: Test, name: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `lh-follow-${name}-`))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A layer with links of every kind, and a folder outside it that some of them point into. */
function layerWithLinks(t: Test): { layer: string; outside: string } {
  const outside = folder(t, 'outside')
  writeFileSync(path.join(outside, 'ext'), '#!/bin/sh\nexit 0\n', { mode: 0o750 })
  mkdirSync(path.join(outside, 'lib'))
  writeFileSync(path.join(outside, 'lib', 'kit.py'), 'KIT = 1\n')
  const layer = folder(t, 'layer')
  mkdirSync(path.join(layer, 'extensions'))
  mkdirSync(path.join(layer, 'bin'))
  writeFileSync(path.join(layer, 'bin', 'tool'), 'tool\n')
  symlinkSync(path.join(outside, 'ext'), path.join(layer, 'extensions', 'absolute'))
  symlinkSync(path.relative(path.join(layer, 'extensions'), path.join(outside, 'lib')), path.join(layer, 'extensions', 'lib'))
  symlinkSync('../bin/tool', path.join(layer, 'extensions', 'inside'))
  symlinkSync('/opt/bin/tool', path.join(layer, 'extensions', 'lambda-path'))
  symlinkSync('/nowhere/at/all', path.join(layer, 'bin', 'dangling'))
  symlinkSync('/proc/self/environ', path.join(layer, 'bin', 'environ'))
  return { layer, outside }
}

t.test('leavingLinks: absolute host paths and ../ out of the folder; not links inside it, to /opt or to /proc', async (t) => {
  const { layer } = layerWithLinks(t)
  t.same(leavingLinks(layer), ['bin/dangling', 'extensions/absolute', 'extensions/lib'])
  t.same(leavingLinks(layer, 1).length, 1, 'at most the limit')
  const plain = folder(t, 'plain')
  mkdirSync(path.join(plain, 'extensions'))
  symlinkSync('../bin/x', path.join(plain, 'extensions', 'x'))
  t.same(leavingLinks(plain), [], 'a link that stays inside leaves nothing')
})

t.test('copyFollowingLinks: what links point at, copied in their place; /opt links and dangling ones stay links', async (t) => {
  const { layer } = layerWithLinks(t)
  const copy = folder(t, 'copy')
  copyFollowingLinks(layer, copy)
  const ext = path.join(copy, 'extensions', 'absolute')
  t.ok(lstatSync(ext).isFile(), 'a linked file is a file')
  t.equal(statSync(ext).mode & 0o777, 0o750, 'with its mode')
  t.equal(readFileSync(path.join(copy, 'extensions', 'lib', 'kit.py'), 'utf8'), 'KIT = 1\n', 'a linked folder is copied whole')
  t.ok(lstatSync(path.join(copy, 'extensions', 'inside')).isFile(), 'a link inside the layer is followed too, as a deploy does')
  t.equal(readlinkSync(path.join(copy, 'extensions', 'lambda-path')), '/opt/bin/tool', 'a link into /opt stays a link')
  t.equal(readlinkSync(path.join(copy, 'bin', 'dangling')), '/nowhere/at/all', 'a link to nothing stays a link')
  t.equal(readlinkSync(path.join(copy, 'bin', 'environ')), '/proc/self/environ', "a link into /proc stays a link: the harness's environment is not copied in")
})

t.test('copyFollowingLinks refuses a link to a folder that holds it', async (t) => {
  const layer = folder(t, 'cycle')
  mkdirSync(path.join(layer, 'extensions'))
  symlinkSync('..', path.join(layer, 'extensions', 'up'))
  const copy = folder(t, 'copy')
  t.throws(() => copyFollowingLinks(layer, copy), { code: 'ERR_BAD_INPUT', message: /extensions\/up .* links to a folder that holds it/ })
})

t.test('copyFollowingLinks: an unreadable file is an error, not a partial layer', { skip: process.getuid?.() === 0 ? 'root reads every file' : false }, async (t) => {
  const layer = folder(t, 'unreadable')
  mkdirSync(path.join(layer, 'extensions'))
  writeFileSync(path.join(layer, 'extensions', 'x'), 'x')
  chmodSync(path.join(layer, 'extensions', 'x'), 0)
  t.throws(() => copyFollowingLinks(layer, folder(t, 'copy')))
})
