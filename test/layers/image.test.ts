// Image tars unpacked into the cache: a flat export, docker save's layers and an OCI layout's,
// applied in order with whiteouts; and the refusals of the safe extractor (writes through a
// symlink, hard links out, devices).
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { imageCacheDir, prepareImage } from '../../harness/layers/image.js'
import { privateCacheHome } from '../helpers.js'

function work(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'lh-image-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  privateCacheHome(t)
  return dir
}

/** Writes files ({ 'a/b': 'text', 'l': { link: 't' } }) under dir/name and tars them (gzip with .tar.gz). */
function tarOf(dir: string, name: string, files: Record<string, string | { link: string }>): string {
  const root = path.join(dir, `${name}.d`)
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true })
    if (typeof content === 'string') {
      writeFileSync(path.join(root, file), content)
    } else {
      symlinkSync(content.link, path.join(root, file))
    }
  }
  const tar = path.join(dir, name)
  const result = spawnSync('tar', [name.endsWith('.gz') ? '-czf' : '-cf', tar, '-C', root, '.'], { encoding: 'utf8' })
  if (result.status !== 0) {
    throw new Error(result.stderr)
  }
  return tar
}

const LOWER = { 'bin/sh': '#!lower', 'etc/gone': 'deleted by a whiteout', 'etc/kept': 'kept', 'opt/old/a': 'emptied by an opaque whiteout', 'usr/lib/x': 'x' }
const UPPER = { 'etc/.wh.gone': '', 'opt/old/.wh..wh..opq': '', 'opt/old/b': 'new in the upper layer', 'lib': { link: 'usr/lib' }, 'etc/kept': 'replaced' }

function checkLayered(t: Test, root: string): void {
  t.equal(readFileSync(path.join(root, 'bin', 'sh'), 'utf8'), '#!lower')
  t.notOk(existsSync(path.join(root, 'etc', 'gone')), '.wh.gone deleted etc/gone')
  t.notOk(existsSync(path.join(root, 'etc', '.wh.gone')), 'whiteouts are not files of the image')
  t.equal(readFileSync(path.join(root, 'etc', 'kept'), 'utf8'), 'replaced', 'a later layer replaces a file')
  t.notOk(existsSync(path.join(root, 'opt', 'old', 'a')), 'the opaque whiteout emptied opt/old of the lower layer')
  t.equal(readFileSync(path.join(root, 'opt', 'old', 'b'), 'utf8'), 'new in the upper layer', 'and kept the upper layer\'s own')
  t.equal(readlinkSync(path.join(root, 'lib')), 'usr/lib', 'symlinks stay symlinks')
}

t.test('a flat tar (docker export) is unpacked once into the cache, keyed by its digest', async (t) => {
  const dir = work(t)
  const tar = tarOf(dir, 'flat.tar', { 'bin/sh': '#!x', 'etc/hosts': '', 'usr/bin/env': { link: '/bin/sh' } })
  const first = await prepareImage(tar)
  const digest = createHash('sha256').update(readFileSync(tar)).digest('hex')
  t.same(first, { root: path.join(imageCacheDir(), digest), source: 'flat tar' })
  t.equal(readlinkSync(path.join(first.root, 'usr', 'bin', 'env')), '/bin/sh', 'an absolute symlink is kept (it resolves inside the sandbox)')
  t.same(await prepareImage(tar), { root: first.root, source: 'tar unpacked before' })
})

t.test('docker save: the layers of manifest.json are applied in order, honouring whiteouts', async (t) => {
  const dir = work(t)
  const lower = tarOf(dir, 'lower.tar', LOWER)
  const upper = tarOf(dir, 'upper.tar.gz', UPPER)
  const outer = path.join(dir, 'save')
  mkdirSync(path.join(outer, 'l1'), { recursive: true })
  mkdirSync(path.join(outer, 'l2'))
  writeFileSync(path.join(outer, 'l1', 'layer.tar'), readFileSync(lower))
  writeFileSync(path.join(outer, 'l2', 'layer.tar'), readFileSync(upper))
  writeFileSync(path.join(outer, 'manifest.json'), JSON.stringify([{ Config: 'c.json', RepoTags: ['x:1'], Layers: ['l1/layer.tar', 'l2/layer.tar'] }]))
  const tar = path.join(dir, 'saved.tar')
  spawnSync('tar', ['-cf', tar, '-C', outer, 'manifest.json', 'l1', 'l2'])
  const image = await prepareImage(tar)
  t.equal(image.source, 'docker save tar')
  checkLayered(t, image.root)
})

t.test('an OCI layout: index.json, the manifest blob, gzip layer blobs, whiteouts', async (t) => {
  const dir = work(t)
  const blobs = path.join(dir, 'oci', 'blobs', 'sha256')
  mkdirSync(blobs, { recursive: true })
  const blob = (data: Buffer | string) => {
    const hex = createHash('sha256').update(data).digest('hex')
    writeFileSync(path.join(blobs, hex), data)
    return `sha256:${hex}`
  }
  const layers = [tarOf(dir, 'lower.tar.gz', LOWER), tarOf(dir, 'upper.tar.gz', UPPER)].map((file) => ({
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    digest: blob(readFileSync(file)),
  }))
  const manifest = blob(JSON.stringify({ schemaVersion: 2, layers }))
  writeFileSync(path.join(dir, 'oci', 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ digest: manifest, platform: { os: 'linux', architecture: 'amd64' } }] }))
  writeFileSync(path.join(dir, 'oci', 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}')
  const tar = path.join(dir, 'oci.tar')
  spawnSync('tar', ['-cf', tar, '-C', path.join(dir, 'oci'), '.'])
  const image = await prepareImage(tar)
  t.equal(image.source, 'OCI layout tar')
  checkLayered(t, image.root)
})

t.test('refusals: writing through a symlink, a hard link out, a device; nothing is left in the cache', async (t) => {
  const dir = work(t)
  // A symlink to the host's /etc, then a file "through" it: GNU tar stores both as given.
  const through = path.join(dir, 'through.tar')
  const a = path.join(dir, 'a')
  mkdirSync(path.join(a, 'x'), { recursive: true })
  writeFileSync(path.join(a, 'x', 'passwd'), 'owned')
  const b = path.join(dir, 'b')
  mkdirSync(b)
  symlinkSync('/etc', path.join(b, 'x'))
  spawnSync('tar', ['-cf', through, '-C', b, 'x'])
  spawnSync('tar', ['-rf', through, '-C', a, 'x/passwd'])
  await t.rejects(prepareImage(through), { code: 'ERR_BAD_INPUT', message: /entry "x\/passwd": unsafe path: it lies inside the symlink "x"/ })
  // /dev/null stored as usr/null: a device outside /dev (those under it lie below the sandbox's own /dev and are skipped).
  const device = path.join(dir, 'device.tar')
  spawnSync('tar', ['-cf', device, '-C', '/', '--transform', 's,^dev/,usr/,', 'dev/null'])
  await t.rejects(prepareImage(device), { code: 'ERR_BAD_INPUT', message: /entry "usr\/null": refused: it is a device node/ })
  const hard = path.join(dir, 'hard.tar')
  // A hard link whose target entry was deleted from the archive: it would link to whatever is there.
  spawnSync('sh', ['-c', `cd ${JSON.stringify(a)} && ln x/passwd x/link && tar -cf ${JSON.stringify(hard)} x/link x/passwd && tar --delete -f ${JSON.stringify(hard)} x/link`])
  await t.rejects(prepareImage(hard), { code: 'ERR_BAD_INPUT', message: /entry "x\/passwd": unsafe hard link: its target "x\/link" is not a file extracted before it/ })
  t.same(existsSync(imageCacheDir()) ? spawnSync('ls', ['-A', imageCacheDir()], { encoding: 'utf8' }).stdout : '', '', 'nothing left in the cache')
})

t.test('two boots unpacking the same tar at once both get the one cached root', async (t) => {
  const dir = work(t)
  const tar = tarOf(dir, 'flat.tar', { 'bin/sh': '#!x', 'etc/hosts': '' })
  const [a, b] = await Promise.all([prepareImage(tar), prepareImage(tar)])
  t.equal(a.root, b.root)
  t.equal(readFileSync(path.join(a.root, 'bin', 'sh'), 'utf8'), '#!x')
  t.same(spawnSync('ls', ['-A', imageCacheDir()], { encoding: 'utf8' }).stdout.trim().split('\n'), [path.basename(a.root)], 'no temporary folder left')
})
