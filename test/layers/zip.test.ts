// The safe zip extractor: a good layer unpacks with its modes and links; every unsafe or corrupt
// archive is refused with ERR_BAD_INPUT naming the zip and the entry, and leaves nothing behind.
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import t, { type Test } from 'tap'
import { HarnessError } from '../../harness/errors.js'
import { extractLayerZip, type ZipLimits } from '../../harness/layers/zip.js'
import { buildZip, deflatedZeros, type ZipEntrySpec } from './zip-writer.js'

const MB = 1024 * 1024

/** A scratch folder for this test, removed at teardown. */
function scratch(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'lh-zip-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function writeZip(t: Test, entries: readonly ZipEntrySpec[], options?: Parameters<typeof buildZip>[1]): { zip: string; dest: string; dir: string } {
  const dir = scratch(t)
  const zip = path.join(dir, 'layer.zip')
  writeFileSync(zip, buildZip(entries, options))
  return { zip, dest: path.join(dir, 'out'), dir }
}

/** Extraction must fail with ERR_BAD_INPUT naming the zip and the entry, and leave no `dest`. */
async function refused(t: Test, entries: readonly ZipEntrySpec[], entry: string | undefined, reason: RegExp, limits?: ZipLimits): Promise<HarnessError> {
  const { zip, dest } = writeZip(t, entries)
  const error = await extractLayerZip(zip, dest, limits).then(
    () => undefined,
    (e: unknown) => e,
  )
  t.type(error, HarnessError)
  const harnessError = error as HarnessError
  t.equal(harnessError.code, 'ERR_BAD_INPUT', harnessError.message)
  t.match(harnessError.message, `zip ${JSON.stringify(zip)}:`)
  if (entry !== undefined) {
    t.match(harnessError.message, `entry ${JSON.stringify(entry)}:`)
  }
  t.match(harnessError.message, reason)
  t.notOk(existsSync(dest), 'nothing was left behind')
  return harnessError
}

const EXTENSION = '#!/bin/sh\necho extension\n'
const MODULE = 'def helper():\n    return 42\n'

t.test('a good layer unpacks with content, the executable bit and inside links', async (t) => {
  const { zip, dest } = writeZip(t, [
    { name: 'extensions/', mode: 0o040755 },
    { name: 'extensions/my-extension', data: EXTENSION, mode: 0o100755, method: 'deflated' },
    { name: 'python/mylib/__init__.py', data: MODULE, mode: 0o100644, method: 'deflated' },
    { name: 'python/mylib/data.txt', data: 'x'.repeat(10_000), method: 'deflated' },
    { name: 'bin/tool', data: '#!/bin/sh\n', mode: 0o104775 /* setuid, group-writable: dropped */ },
    { name: 'lib/libx.so.1', data: Buffer.from([0x7f, 0x45, 0x4c, 0x46]) },
    { name: 'lib/libx.so', data: 'libx.so.1', mode: 0o120777 },
    { name: 'lib/python', data: '../python', mode: 0o120777, method: 'deflated' },
    { name: 'empty.txt', data: '' },
  ])
  const result = await extractLayerZip(zip, dest)
  t.same(result, { files: 6, directories: 1, symlinks: 2, bytes: EXTENSION.length + MODULE.length + 10_000 + 10 + 4 + 'libx.so.1'.length + '../python'.length })
  t.equal(statSync(path.join(dest, 'extensions/my-extension')).mode & 0o7777, 0o755, 'extension stays executable')
  t.equal(readFileSync(path.join(dest, 'extensions/my-extension'), 'utf8'), EXTENSION)
  t.equal(readFileSync(path.join(dest, 'python/mylib/__init__.py'), 'utf8'), MODULE)
  t.equal(statSync(path.join(dest, 'python/mylib/__init__.py')).mode & 0o7777, 0o644)
  t.equal(statSync(path.join(dest, 'bin/tool')).mode & 0o7777, 0o755, 'setuid and group write are not kept')
  t.equal(readlinkSync(path.join(dest, 'lib/libx.so')), 'libx.so.1')
  t.equal(readFileSync(path.join(dest, 'lib/libx.so')).length, 4, 'the link resolves inside the layer')
  t.equal(readFileSync(path.join(dest, 'lib/python/mylib/__init__.py'), 'utf8'), MODULE)
  t.equal(statSync(path.join(dest, 'empty.txt')).size, 0)
  t.equal(statSync(dest).mode & 0o777, 0o700, 'a folder it creates is private')
})

t.test('the Python module runs from the unpacked python/ folder', async (t) => {
  const { zip, dest } = writeZip(t, [{ name: 'python/mylib/__init__.py', data: MODULE, method: 'deflated' }])
  await extractLayerZip(zip, dest)
  const out = execFileSync('python3', ['-c', 'import mylib; print(mylib.helper())'], { env: { ...process.env, PYTHONPATH: path.join(dest, 'python') } })
  t.equal(out.toString().trim(), '42')
})

t.test('ZIP64 records and extra fields are read', async (t) => {
  const { zip, dest } = writeZip(t, [{ name: 'extensions/ext', data: EXTENSION, mode: 0o100755, method: 'deflated' }, { name: 'python/a.py', data: MODULE }], {
    zip64: true,
  })
  t.same(await extractLayerZip(zip, dest), { files: 2, directories: 0, symlinks: 0, bytes: EXTENSION.length + MODULE.length })
  t.equal(statSync(path.join(dest, 'extensions/ext')).mode & 0o777, 0o755)
})

t.test('an empty archive and an archive comment are fine', async (t) => {
  const { zip, dest } = writeZip(t, [{ name: 'a', data: 'a' }], { comment: 'made by a test \u0050\u004b\u0005\u0006' })
  t.same(await extractLayerZip(zip, dest), { files: 1, directories: 0, symlinks: 0, bytes: 1 })
  const empty = writeZip(t, [])
  t.same(await extractLayerZip(empty.zip, empty.dest), { files: 0, directories: 0, symlinks: 0, bytes: 0 })
})

t.test('a zip made by Info-ZIP (zip -y) unpacks the same way', { skip: existsSync('/usr/bin/zip') ? false : '/usr/bin/zip is not installed' }, async (t) => {
  const dir = scratch(t)
  const src = path.join(dir, 'src')
  mkdirSync(path.join(src, 'extensions'), { recursive: true })
  mkdirSync(path.join(src, 'lib'))
  writeFileSync(path.join(src, 'extensions', 'ext'), EXTENSION, { mode: 0o755 })
  writeFileSync(path.join(src, 'lib', 'libx.so.1'), 'elf')
  symlinkSync('libx.so.1', path.join(src, 'lib', 'libx.so'))
  execFileSync('/usr/bin/zip', ['-q', '-r', '-y', path.join(dir, 'layer.zip'), '.'], { cwd: src })
  const dest = path.join(dir, 'out')
  const result = await extractLayerZip(path.join(dir, 'layer.zip'), dest)
  t.same(result, { files: 2, directories: 2, symlinks: 1, bytes: EXTENSION.length + 3 + 'libx.so.1'.length })
  t.equal(statSync(path.join(dest, 'extensions/ext')).mode & 0o777, 0o755)
  t.equal(readlinkSync(path.join(dest, 'lib/libx.so')), 'libx.so.1')
  // Written to a pipe, zip cannot seek back: data descriptors and ZIP64 local headers.
  writeFileSync(path.join(dir, 'streamed.zip'), execFileSync('/usr/bin/zip', ['-q', '-r', '-', '.'], { cwd: src }))
  const streamed = await extractLayerZip(path.join(dir, 'streamed.zip'), path.join(dir, 'streamed'))
  t.same(streamed, { files: 3, directories: 2, symlinks: 0, bytes: EXTENSION.length + 3 + 3 }, 'without -y the link is stored as the file it points to')
  t.equal(statSync(path.join(dir, 'streamed', 'extensions/ext')).mode & 0o777, 0o755)
})

t.test('device, FIFO and socket modes become regular files, never special files', async (t) => {
  // Info-ZIP gives `echo hello | zip a.zip -` a FIFO's mode.
  const { zip, dest } = writeZip(t, [
    { name: '-', data: 'hello\n', mode: 0o010600 },
    { name: 'dev', data: 'x', mode: 0o020755 },
    { name: 'sock', data: '', mode: 0o140644 },
  ])
  t.same(await extractLayerZip(zip, dest), { files: 3, directories: 0, symlinks: 0, bytes: 7 })
  t.ok(lstatSync(path.join(dest, '-')).isFile())
  t.equal(readFileSync(path.join(dest, '-'), 'utf8'), 'hello\n')
  t.ok(lstatSync(path.join(dest, 'dev')).isFile())
  t.equal(statSync(path.join(dest, 'dev')).mode & 0o7777, 0o755)
  t.ok(lstatSync(path.join(dest, 'sock')).isFile())
})

t.test('unsafe paths are refused before anything is written', async (t) => {
  const cases: [string, RegExp][] = [
    ['../x', /unsafe path: it has a "\.\." component/],
    ['python/../../x', /unsafe path: it has a "\.\." component/],
    ['python/..', /unsafe path: it has a "\.\." component/],
    ['/etc/cron.d/x', /unsafe path: it is absolute/],
    ['C:/Windows/x', /unsafe path: it starts with a drive letter/],
    ['c:x', /unsafe path: it starts with a drive letter/],
    ['..\\x', /unsafe path: it contains a backslash/],
    ['python\\x.py', /unsafe path: it contains a backslash/],
    ['a\0b', /unsafe path: it contains a NUL byte/],
  ]
  for (const [name, reason] of cases) {
    await refused(t, [{ name: 'python/ok.py', data: 'ok' }, { name, data: 'evil' }], name, reason)
  }
})

t.test('symlinks that leave the layer are refused', async (t) => {
  const link = (name: string, target: string): ZipEntrySpec => ({ name, data: target, mode: 0o120777 })
  await refused(t, [link('extensions/passwd', '../../etc/passwd')], 'extensions/passwd', /unsafe symlink: .* points outside the layer/)
  await refused(t, [link('lib/libc.so', '/lib/x86_64-linux-gnu/libc.so.6')], 'lib/libc.so', /unsafe symlink: .* is absolute/)
  await refused(t, [link('up', '..')], 'up', /points outside the layer/)
  // Writing through a link: the link is refused as a parent even when it points inside.
  await refused(
    t,
    [link('lib', 'python'), { name: 'python/', mode: 0o040755 }, { name: 'lib/evil', data: 'x' }],
    'lib/evil',
    /unsafe path: it lies inside the symlink "lib"/,
  )
  // `a -> .` is inside, but `b -> a/..` resolves through it to the layer's parent.
  await refused(t, [link('d/a', '.'), link('d/b', 'a/../..')], 'd/b', /passes through another symlink/)
  // Whatever the order in the archive.
  await refused(t, [link('d/b', 'a/../..'), link('d/a', '.')], 'd/b', /passes through another symlink/)
})

t.test('duplicates and conflicting paths are refused', async (t) => {
  await refused(t, [{ name: 'a', data: '1' }, { name: 'a', data: '2' }], 'a', /holds this path twice/)
  await refused(t, [{ name: 'a', data: '1' }, { name: 'a/b', data: '2' }], 'a/b', /inside the file "a"/)
  await refused(t, [{ name: 'dir/', data: 'content' }], 'dir/', /a folder entry with content/)
})

t.test('encryption and unknown compression methods are refused', async (t) => {
  await refused(t, [{ name: 'secret', data: 'x', flags: 0x0801 }], 'secret', /encrypted entries are not supported/)
  await refused(t, [{ name: 'aes', data: 'x', method: 99 }], 'aes', /encrypted entries are not supported/)
  await refused(t, [{ name: 'bz', data: 'x', method: 12 }], 'bz', /compression method 12 is not supported \(only stored and deflated\)/)
})

t.test('zip bombs are refused', async (t) => {
  const zeros = await deflatedZeros(300 * MB)
  t.comment(`300 MB of zeros deflate to ${zeros.compressed.length} bytes`)

  t.test('a 300 MB entry is refused before anything is written', async (t) => {
    const started = performance.now()
    await refused(
      t,
      [{ name: 'python/zeros.bin', compressed: zeros.compressed, declaredSize: 300 * MB, crc: zeros.crc, method: 8 }],
      'python/zeros.bin',
      /unpacks to more than 262144000 bytes/,
    )
    t.comment(`refused in ${(performance.now() - started).toFixed(1)} ms`)
  })

  t.test('the ratio limit holds under a larger total', async (t) => {
    await refused(
      t,
      [{ name: 'zeros.bin', compressed: zeros.compressed, declaredSize: 300 * MB, crc: zeros.crc, method: 8 }],
      'zeros.bin',
      /refused as a zip bomb: 314572800 bytes from \d+ compressed \(ratio over 200\)/,
      { maxTotalBytes: 1024 * MB },
    )
  })

  t.test('an entry that lies about its size stops at the declared size', async (t) => {
    const started = performance.now()
    await refused(
      t,
      [{ name: 'small.bin', compressed: zeros.compressed, declaredSize: 1000, crc: zeros.crc, method: 8 }],
      'small.bin',
      /inflates past the declared 1000 bytes \(sizes lie\)/,
    )
    t.comment(`refused in ${(performance.now() - started).toFixed(1)} ms`)
  })

  t.test('a streamed entry that lies about its size stops at the declared size', async (t) => {
    // Past 1 MiB entries are streamed rather than inflated in memory; the same limit holds.
    const started = performance.now()
    await refused(
      t,
      [{ name: 'medium.bin', compressed: zeros.compressed, declaredSize: 2 * MB, crc: zeros.crc, method: 8 }],
      'medium.bin',
      /inflates past the declared 2097152 bytes \(sizes lie\)/,
    )
    t.comment(`refused in ${(performance.now() - started).toFixed(1)} ms`)
  })

  t.test('the total counts every entry', async (t) => {
    const entries = [0, 1, 2].map((i) => ({ name: `part-${i}`, data: Buffer.alloc(400) }))
    await refused(t, entries, 'part-2', /unpacks to more than 1000 bytes/, { maxTotalBytes: 1000 })
  })

  t.test('entries that share their bytes (the overlapping bomb) are refused', async (t) => {
    // a's declared data runs over b's local header and data: b's bytes would be counted twice.
    const overlap = 'shared'.length + 30 + 'b'.length + 'shared'.length
    await refused(
      t,
      [{ name: 'a', data: 'shared', declaredSize: overlap, declaredCompressedSize: overlap }, { name: 'b', data: 'shared' }],
      'b',
      /refused as a zip bomb: its data overlaps entry "a"/,
    )
    // Two central entries on one local header: the second name disagrees with it.
    await refused(t, [{ name: 'a', data: 'shared' }, { name: 'b', data: 'shared', sameDataAs: 0 }], 'b', /local header disagrees/)
  })
})

t.test('sizes that lie and corrupt data are refused', async (t) => {
  await refused(t, [{ name: 'long.txt', data: 'hello', declaredSize: 50, method: 'deflated' }], 'long.txt', /corrupt: 5 bytes where 50 were declared/)
  await refused(t, [{ name: 'stored.txt', data: 'hello', declaredSize: 4 }], 'stored.txt', /a stored entry with different sizes/)
  await refused(t, [{ name: 'crc.txt', data: 'hello', crc: 1234 }], 'crc.txt', /CRC-32 mismatch/)
  await refused(t, [{ name: 'crc.txt', data: 'hello', crc: 1234, method: 'deflated' }], 'crc.txt', /CRC-32 mismatch/)
  // Incompressible, so the ratio limit stays out of the way and the entries are streamed.
  const large = randomBytes(3 * MB)
  await refused(t, [{ name: 'large.txt', data: large, crc: 7, method: 'deflated' }], 'large.txt', /CRC-32 mismatch/)
  await refused(
    t,
    [{ name: 'large.txt', data: large, declaredSize: large.length + 1, method: 'deflated' }],
    'large.txt',
    /corrupt: 3145728 bytes where 3145729 were declared/,
  )
  await refused(
    t,
    [{ name: 'large.txt', data: large, compressed: zlib.deflateRawSync(large).subarray(0, 2 * MB), method: 8 }],
    'large.txt',
    /corrupt or unusable \(Z_BUF_ERROR: unexpected end of file\)/,
  )
  await refused(
    t,
    [{ name: 'garbage.bin', data: 'hello', compressed: Buffer.from('this is not deflate data at all'), method: 8 }],
    'garbage.bin',
    /corrupt or unusable \(Z_DATA_ERROR/,
  )
  await refused(
    t,
    [{ name: 'big.txt', data: 'hello', declaredCompressedSize: 1_000_000, method: 'deflated' }],
    'big.txt',
    /compressed bytes run past the entries/,
  )
  await refused(t, [{ name: 'real.txt', localName: 'evil.txt', data: 'x' }], 'real.txt', /local header disagrees with the central directory/)
})

t.test('archives that are not zips, or are cut short, are refused', async (t) => {
  const dir = scratch(t)
  const good = buildZip([{ name: 'python/a.py', data: MODULE, method: 'deflated' }])
  const cases: [string, Buffer, RegExp][] = [
    ['empty.zip', Buffer.alloc(0), /not a zip archive/],
    ['text.zip', Buffer.from('just some text, not an archive'), /not a zip archive/],
    ['cut.zip', good.subarray(0, good.length - 10), /not a zip archive/],
    ['headless.zip', good.subarray(20), /corrupt/],
  ]
  for (const [name, bytes, reason] of cases) {
    const zip = path.join(dir, name)
    writeFileSync(zip, bytes)
    await t.rejects(extractLayerZip(zip, path.join(dir, `${name}.out`)), { code: 'ERR_BAD_INPUT', message: reason }, name)
    t.notOk(existsSync(path.join(dir, `${name}.out`)))
  }
  await t.rejects(extractLayerZip(path.join(dir, 'missing.zip'), path.join(dir, 'm.out')), { code: 'ERR_FILE_NOT_FOUND' })
})

t.test('a failure mid-way removes what was written', async (t) => {
  const entries: ZipEntrySpec[] = [
    { name: 'extensions/', mode: 0o040755 },
    { name: 'extensions/ext', data: EXTENSION, mode: 0o100755 },
    { name: 'python/big.py', data: 'y'.repeat(100_000), method: 'deflated' },
    { name: 'python/broken.py', data: 'hello', crc: 99 },
  ]
  t.test('into a folder it created', async (t) => {
    await refused(t, entries, 'python/broken.py', /CRC-32 mismatch/)
  })
  t.test('into an empty folder that already existed', async (t) => {
    const { zip, dest } = writeZip(t, entries)
    mkdirSync(dest)
    await t.rejects(extractLayerZip(zip, dest), { code: 'ERR_BAD_INPUT' })
    t.ok(existsSync(dest), 'the folder it did not create stays')
    t.same(readdirSync(dest), [], 'and is empty again')
  })
  t.test('a destination that is not empty is not used', async (t) => {
    const { zip, dest } = writeZip(t, entries.slice(0, 2))
    mkdirSync(dest)
    writeFileSync(path.join(dest, 'mine'), 'keep')
    await t.rejects(extractLayerZip(zip, dest), { code: 'ERR_INVALID_OPTION' })
    t.same(readdirSync(dest), ['mine'])
  })
})

t.test('names and limits are validated', async (t) => {
  const { zip, dest } = writeZip(t, [{ name: 'a', data: 'a' }])
  await t.rejects(extractLayerZip(zip, dest, { maxTotalBytes: -1 }), {
    code: 'ERR_INVALID_OPTION',
    message: 'option limits.maxTotalBytes: expected a number of 0 or more (Infinity for none), got -1',
  })
  // A name that is not UTF-8 (Latin-1 é without the UTF-8 flag).
  const dir = scratch(t)
  const latin = buildZip([{ name: 'caf\u00e9', data: 'x', flags: 0 }])
  const at = latin.indexOf(Buffer.from('caf\u00e9'))
  // Rewrite every copy of the UTF-8 name bytes (c3 a9) as Latin-1 e9 + a filler so lengths hold.
  for (let i = latin.indexOf(Buffer.from([0xc3, 0xa9]), at); i >= 0; i = latin.indexOf(Buffer.from([0xc3, 0xa9]), i + 2)) {
    latin[i] = 0xe9
    latin[i + 1] = 0x21
  }
  writeFileSync(path.join(dir, 'latin.zip'), latin)
  await t.rejects(extractLayerZip(path.join(dir, 'latin.zip'), path.join(dir, 'out')), { code: 'ERR_BAD_INPUT', message: /a name that is not UTF-8/ })
  t.notOk(existsSync(path.join(dir, 'out')))
})
