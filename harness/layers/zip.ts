// A safe extractor for layer .zip files, with no dependencies: we read the central directory
// ourselves and inflate with node:zlib. A layer zip is untrusted input, so every entry is checked
// before the first byte is written, and again while it is written:
//
//   paths     relative, no `..`, no drive letter, no backslash, no NUL, no entry inside a file or a
//             symlink, no duplicates;
//   kinds     regular files, folders, and symlinks whose target stays inside the layer (as .so
//             links in lib/ need); an entry with a device, FIFO or socket mode becomes a file;
//   format    stored and deflated only, no encryption, one volume, ZIP64 read, local headers that
//             agree with the central directory, entries whose bytes do not overlap (the
//             overlapping-entry bomb);
//   sizes     the declared total under `maxTotalBytes` (Lambda's 250 MB unzipped quota) and each
//             entry's ratio under `maxEntryRatio`, both before writing; then, while inflating,
//             never a byte past the declared size and a CRC that matches (sizes that lie).
//
// The Unix mode's executable bit is kept (extensions must be executable); other bits are not:
// files are 0644 or 0755, folders 0755. A failure removes everything the extraction wrote.
import { lstat, mkdir, open, readdir, rm, symlink, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import zlib from 'node:zlib'
import { invalid } from '../config/options.js'
import { HarnessError } from '../errors.js'
import { readEntries } from './zip-entries.js'
import { LAMBDA_UNZIPPED_LIMIT_BYTES } from './quota.js'
import { crc32Of, errnoOf, METHOD_DEFLATED, readAt, refuse, type Entry, type ZipLimits } from './zip-format.js'

export type { ZipLimits } from './zip-format.js'


interface ExtractedZip {
  readonly files: number
  readonly directories: number
  readonly symlinks: number
  /** Bytes written: files and symlink targets. */
  readonly bytes: number
}

const DEFAULTS: Required<ZipLimits> = {
  maxTotalBytes: LAMBDA_UNZIPPED_LIMIT_BYTES,
  maxEntryRatio: 200,
  ratioGraceBytes: 1024 * 1024,
  maxEntries: 100_000,
}

const CHUNK_BYTES = 256 * 1024
/** Entries up to this size (both ways) are inflated in memory; larger ones are streamed. */
const SMALL_ENTRY_BYTES = 1024 * 1024

/**
 * Unpacks `zipPath` into `destDir` (created if missing; it must be empty if it exists). Refuses an
 * unsafe or corrupt zip with ERR_BAD_INPUT naming the zip and the entry, having removed whatever it
 * wrote.
 */
export async function extractLayerZip(zipPath: string, destDir: string, limits: ZipLimits = {}): Promise<ExtractedZip> {
  const resolvedLimits = validateLimits(limits)
  const dest = path.resolve(destDir)
  let zip: FileHandle
  try {
    zip = await open(zipPath, 'r')
  } catch (error) {
    throw new HarnessError('ERR_FILE_NOT_FOUND', `zip ${JSON.stringify(zipPath)}: cannot open (${errnoOf(error)})`, { cause: error })
  }
  try {
    const entries = await readEntries(zip, zipPath, resolvedLimits)
    const createdDest = await prepareDestination(dest)
    try {
      return await writeEntries(zip, zipPath, dest, entries)
    } catch (error) {
      // Remove what we wrote: the folder if we made it, else its content (it was empty before).
      if (createdDest) {
        await rm(dest, { recursive: true, force: true })
      } else {
        for (const name of await readdir(dest).catch(() => [])) {
          await rm(path.join(dest, name), { recursive: true, force: true })
        }
      }
      throw error
    }
  } finally {
    await zip.close()
  }
}

// ---- Writing -----------------------------------------------------------------------------

/** Creates `dest` (0700) and says whether we did; an existing `dest` must be an empty folder. */
async function prepareDestination(dest: string): Promise<boolean> {
  const stat = await lstat(dest).catch(() => undefined)
  if (stat === undefined) {
    await mkdir(dest, { recursive: true, mode: 0o700 })
    return true
  }
  if (!stat.isDirectory() || (await readdir(dest)).length > 0) {
    throw new HarnessError('ERR_INVALID_OPTION', `zip destination ${JSON.stringify(dest)}: expected a missing or empty folder`)
  }
  return false
}

async function writeEntries(zip: FileHandle, zipPath: string, dest: string, entries: readonly Entry[]): Promise<ExtractedZip> {
  let files = 0
  let directories = 0
  let symlinks = 0
  let bytes = 0
  const folders = new Set<string>([dest])
  /** mkdir -p, once per folder: a layer has thousands of files in a few hundred folders. */
  const ensureFolder = async (folder: string): Promise<void> => {
    if (!folders.has(folder)) {
      await mkdir(folder, { recursive: true, mode: 0o755 })
      for (let at = folder; at.length > dest.length && !folders.has(at); at = path.dirname(at)) {
        folders.add(at)
      }
    }
  }
  // Folders, then files in archive order (sequential reads), then symlinks: no link exists while
  // anything is written, and nothing is written inside one (checkTree).
  for (const entry of entries) {
    if (entry.kind === 'directory' && entry.path !== '') {
      try {
        await ensureFolder(path.join(dest, entry.path))
      } catch (error) {
        throw asExtractionError(zipPath, entry, error)
      }
      directories++
    }
  }
  const ordered = entries.filter((entry) => entry.kind === 'file').sort((a, b) => a.dataOffset - b.dataOffset)
  for (const entry of ordered) {
    const target = path.join(dest, entry.path)
    try {
      await ensureFolder(path.dirname(target))
      bytes += entry.compressedSize <= SMALL_ENTRY_BYTES && entry.uncompressedSize <= SMALL_ENTRY_BYTES
        ? await writeSmallFile(zip, zipPath, entry, target)
        : await writeLargeFile(zip, zipPath, entry, target)
    } catch (error) {
      throw asExtractionError(zipPath, entry, error)
    }
    files++
  }
  for (const entry of entries) {
    if (entry.kind === 'symlink' && entry.linkTarget !== undefined) {
      const target = path.join(dest, entry.path)
      try {
        await ensureFolder(path.dirname(target))
        await symlink(entry.linkTarget, target)
      } catch (error) {
        throw asExtractionError(zipPath, entry, error)
      }
      bytes += entry.uncompressedSize
      symlinks++
    }
  }
  return { files, directories, symlinks, bytes }
}

/** In memory, for the many small files of a layer: one read, one inflate, one write. */
async function writeSmallFile(zip: FileHandle, zipPath: string, entry: Entry, target: string): Promise<number> {
  const stored = await readAt(zip, entry.dataOffset, entry.compressedSize)
  if (stored.length !== entry.compressedSize) {
    throw refuse(zipPath, entry.name, 'corrupt: the archive ends inside this entry')
  }
  let data = stored
  if (entry.method === METHOD_DEFLATED) {
    try {
      // One byte of slack: a stream that yields more than declared throws here instead of growing.
      data = zlib.inflateRawSync(stored, { maxOutputLength: entry.uncompressedSize + 1 })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw refuse(zipPath, entry.name, `its data inflates past the declared ${entry.uncompressedSize} bytes (sizes lie)`)
      }
      throw error
    }
  }
  checkContent(zipPath, entry, data.length, crc32Of(data, 0))
  // 'wx' is O_CREAT|O_EXCL: it never follows or replaces anything already there.
  const out = await open(target, 'wx', entry.mode)
  try {
    await out.writeFile(data)
    // The mode was masked by the umask at open; set it exactly.
    await out.chmod(entry.mode)
  } finally {
    await out.close()
  }
  return data.length
}

/** Streamed, never past the declared size: memory stays flat whatever the entry claims. */
async function writeLargeFile(zip: FileHandle, zipPath: string, entry: Entry, target: string): Promise<number> {
  const out = await open(target, 'wx', entry.mode)
  let written = 0
  let crc = 0
  try {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        written += chunk.length
        if (written > entry.uncompressedSize) {
          callback(refuse(zipPath, entry.name, `its data inflates past the declared ${entry.uncompressedSize} bytes (sizes lie)`))
          return
        }
        crc = crc32Of(chunk, crc)
        out.write(chunk).then(() => callback(), callback)
      },
    })
    const source = Readable.from(readRange(zip, zipPath, entry))
    if (entry.method === METHOD_DEFLATED) {
      await pipeline(source, zlib.createInflateRaw({ chunkSize: CHUNK_BYTES }), sink)
    } else {
      await pipeline(source, sink)
    }
    checkContent(zipPath, entry, written, crc)
    await out.chmod(entry.mode)
  } finally {
    await out.close()
  }
  return written
}

function checkContent(zipPath: string, entry: Entry, size: number, crc: number): void {
  if (size !== entry.uncompressedSize) {
    throw refuse(zipPath, entry.name, `corrupt: ${size} bytes where ${entry.uncompressedSize} were declared (sizes lie)`)
  }
  if (crc !== entry.crc32) {
    throw refuse(zipPath, entry.name, 'corrupt: CRC-32 mismatch')
  }
}

async function* readRange(zip: FileHandle, zipPath: string, entry: Entry): AsyncGenerator<Buffer> {
  let position = entry.dataOffset
  let left = entry.compressedSize
  while (left > 0) {
    const size = Math.min(left, CHUNK_BYTES)
    const { bytesRead, buffer } = await zip.read(Buffer.allocUnsafe(size), 0, size, position)
    if (bytesRead === 0) {
      throw refuse(zipPath, entry.name, 'corrupt: the archive ends inside this entry')
    }
    yield buffer.subarray(0, bytesRead)
    position += bytesRead
    left -= bytesRead
  }
}

// ---- Helpers -----------------------------------------------------------------------------

/** zlib and path-shaped fs failures are the archive's fault; the rest (ENOSPC, EACCES) are the machine's. */
function asExtractionError(zipPath: string, entry: Entry, error: unknown): HarnessError {
  if (error instanceof HarnessError) {
    return error
  }
  const code = errnoOf(error)
  if (code.startsWith('Z_') || code.startsWith('ERR_') || ['ENAMETOOLONG', 'EEXIST', 'ENOTDIR', 'EISDIR', 'EILSEQ', 'EINVAL'].includes(code)) {
    return refuse(zipPath, entry.name, `corrupt or unusable (${code}: ${(error as Error).message})`, error)
  }
  return new HarnessError('ERR_INTERNAL', `zip ${JSON.stringify(zipPath)}: entry ${JSON.stringify(entry.name)}: cannot write (${code})`, { cause: error })
}

function validateLimits(limits: ZipLimits): Required<ZipLimits> {
  const resolved = { ...DEFAULTS }
  for (const key of Object.keys(DEFAULTS) as (keyof ZipLimits)[]) {
    const value = limits[key]
    if (value === undefined) {
      continue
    }
    // Infinity turns a limit off.
    if (typeof value !== 'number' || !(value >= 0)) {
      throw invalid(`limits.${key}`, 'a number of 0 or more (Infinity for none)', value)
    }
    resolved[key] = value
  }
  return resolved
}
