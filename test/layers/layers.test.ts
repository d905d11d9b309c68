// prepareLayers: folders are used as they are, zips are unpacked to private temp folders that
// cleanup() (or, if the harness dies, the exit hook) removes; a bad input unpacks nothing.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { LAYER_TEMP_PREFIX, prepareLayers } from '../../harness/layers/layers.js'
import { buildZip } from './zip-writer.js'

const LAYERS_MODULE = new URL('../../harness/layers/layers.js', import.meta.url).href

// A TMPDIR of this file's own (os.tmpdir() reads it at each call, and the harness process in the
// last test inherits it): other test files unpack layers into the shared /tmp at the same time,
// so a leftover check there would count their folders as ours.
const privateTmp = mkdtempSync(path.join(tmpdir(), 'lh-layers-test-'))
process.env.TMPDIR = privateTmp

/** Our temp folders in os.tmpdir() right now. */
function leftovers(): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith(LAYER_TEMP_PREFIX))
}

// Every test must leave os.tmpdir() as it found it.
t.teardown(() => {
  const after = leftovers()
  rmSync(privateTmp, { recursive: true, force: true })
  if (after.length > 0) {
    throw new Error(`unpacked layers left in ${privateTmp}: ${after.join(', ')}`)
  }
})

function scratch(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'lh-layers-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function layerZip(dir: string, name: string, extension = 'ext'): string {
  const zip = path.join(dir, name)
  writeFileSync(
    zip,
    buildZip([
      { name: `extensions/${extension}`, data: '#!/bin/sh\n', mode: 0o100755, method: 'deflated' },
      { name: 'python/layer_mod.py', data: `NAME = ${JSON.stringify(name)}\n`, method: 'deflated' },
    ]),
  )
  return zip
}

t.test('a folder is used as it is and a zip is unpacked to a private folder', async (t) => {
  const dir = scratch(t)
  const folder = path.join(dir, 'folder-layer')
  mkdirSync(path.join(folder, 'extensions'), { recursive: true })
  const zip = layerZip(dir, 'zip-layer.zip')

  const prepared = await prepareLayers([folder, zip])
  const [first, second] = prepared.layers
  t.same(first, { root: folder, extensionsDir: path.join(folder, 'extensions') })
  t.ok(second !== undefined)
  const root = second!.root
  t.equal(path.dirname(root), tmpdir())
  t.match(path.basename(root), new RegExp(`^${LAYER_TEMP_PREFIX}`))
  t.equal(statSync(root).mode & 0o777, 0o700, 'private to this user')
  t.equal(second!.extensionsDir, path.join(root, 'extensions'))
  t.equal(statSync(path.join(root, 'extensions', 'ext')).mode & 0o777, 0o755)
  t.equal(readFileSync(path.join(root, 'python', 'layer_mod.py'), 'utf8'), 'NAME = "zip-layer.zip"\n')

  await prepared.cleanup()
  t.notOk(existsSync(root), 'cleanup removes the unpacked folder')
  t.ok(existsSync(folder), 'and never touches a folder layer')
  await prepared.cleanup()
  t.pass('cleanup is idempotent')
})

t.test('await using removes the folders too', async (t) => {
  const dir = scratch(t)
  let root = ''
  {
    await using prepared = await prepareLayers([layerZip(dir, 'a.zip')])
    root = prepared.layers[0]!.root
    t.ok(existsSync(root))
  }
  t.notOk(existsSync(root))
})

t.test('a missing input is ERR_FILE_NOT_FOUND naming it, and nothing is unpacked', async (t) => {
  const dir = scratch(t)
  const missing = path.join(dir, 'nope.zip')
  const started = leftovers()
  await t.rejects(prepareLayers([layerZip(dir, 'a.zip'), missing]), {
    code: 'ERR_FILE_NOT_FOUND',
    message: `option layers[1]: layer ${JSON.stringify(missing)} does not exist`,
  })
  t.same(leftovers(), started)
  await t.rejects(prepareLayers([path.join(dir, 'no-folder')], { option: '--layer' }), { code: 'ERR_FILE_NOT_FOUND', message: /^option --layer\[0\]: layer / })
})

t.test('inputs that are neither folders nor .zip files are invalid options', async (t) => {
  const dir = scratch(t)
  writeFileSync(path.join(dir, 'layer.tar'), 'x')
  await t.rejects(prepareLayers([path.join(dir, 'layer.tar')]), {
    code: 'ERR_INVALID_OPTION',
    message: /^option layers\[0\]: expected a folder or a \.zip file, got .*not a \.zip/,
  })
  await t.rejects(prepareLayers(['']), { code: 'ERR_INVALID_OPTION' })
})

t.test('an unsafe zip removes the layers already unpacked', async (t) => {
  const dir = scratch(t)
  const evil = path.join(dir, 'evil.zip')
  writeFileSync(evil, buildZip([{ name: '../escape', data: 'x' }]))
  const started = leftovers()
  await t.rejects(prepareLayers([layerZip(dir, 'good-1.zip'), layerZip(dir, 'good-2.zip'), evil]), {
    code: 'ERR_BAD_INPUT',
    message: `zip ${JSON.stringify(evil)}: entry "../escape": unsafe path: it has a ".." component`,
  })
  t.same(leftovers(), started, 'the two good layers were removed')
  t.notOk(existsSync(path.join(dir, 'escape')))
})

t.test('the size limit is shared by all the zips, as Lambda counts layers together', async (t) => {
  const dir = scratch(t)
  const zip = (name: string) => {
    const file = path.join(dir, name)
    writeFileSync(file, buildZip([{ name: 'python/blob', data: Buffer.alloc(600) }]))
    return file
  }
  const one = await prepareLayers([zip('one.zip')], { limits: { maxTotalBytes: 1000 } })
  await one.cleanup()
  await t.rejects(prepareLayers([zip('a.zip'), zip('b.zip')], { limits: { maxTotalBytes: 1000 } }), {
    code: 'ERR_BAD_INPUT',
    message: /b\.zip.*unpacks to more than 400 bytes/,
  })
})

t.test('the folders go when the harness process exits without cleanup', async (t) => {
  const dir = scratch(t)
  const zip = layerZip(dir, 'a.zip')
  const script = `
    const { prepareLayers } = await import(${JSON.stringify(LAYERS_MODULE)})
    const prepared = await prepareLayers([${JSON.stringify(zip)}])
    process.stdout.write(prepared.layers[0].root)
    process.exit(0)
  `
  const root = execFileSync(process.execPath, ['--input-type=module', '-e', script]).toString()
  t.match(root, LAYER_TEMP_PREFIX)
  t.notOk(existsSync(root), 'the exit hook removed it')
})
