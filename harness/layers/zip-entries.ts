// Reading a layer zip's central directory and checking every entry before anything is written:
// format (stored and deflated, no encryption, one volume, ZIP64), local headers that agree with
// the central directory, no overlapping data, declared sizes within the limits, safe paths
// (zip-paths.ts) and symlink targets that stay inside the layer.
import type { FileHandle } from 'node:fs/promises'
import zlib from 'node:zlib'
import { HarnessError } from '../errors.js'
import { linkLeavesLayer, normalisePath, treeProblem, type EntryKind, type PathEntry } from './zip-paths.js'

export interface ZipLimits {
  /** Bytes of all entries once unpacked. Default 262 144 000, Lambda's unzipped quota. */
  readonly maxTotalBytes?: number
  /** Largest uncompressed/compressed ratio of one entry larger than `ratioGraceBytes`. Default 200. */
  readonly maxEntryRatio?: number
  /** Entries up to this size are not held to the ratio (a small file of zeros is fine). Default 1 MiB. */
  readonly ratioGraceBytes?: number
  /** Entries in the central directory. Default 100 000. */
  readonly maxEntries?: number
}

const SIG_LOCAL = 0x04034b50
const SIG_CENTRAL = 0x02014b50
const SIG_END = 0x06054b50
const SIG_ZIP64_END = 0x06064b50
const SIG_ZIP64_LOCATOR = 0x07064b50
const END_SIZE = 22
const MAX_COMMENT = 0xffff
const CENTRAL_SIZE = 46
const LOCAL_SIZE = 30
/** A central directory past this is not a layer (100 000 entries with long names fit easily). */
const MAX_CENTRAL_BYTES = 64 * 1024 * 1024
/** Linux PATH_MAX, the longest symlink target we accept. */
const MAX_LINK_BYTES = 4095

const METHOD_STORED = 0
export const METHOD_DEFLATED = 8
const FLAG_ENCRYPTED = 0x0001
const FLAG_STRONG_ENCRYPTION = 0x0040
const FLAG_UTF8 = 0x0800
const FLAG_MASKED_HEADERS = 0x2000
/** "Version made by" hosts whose external attributes carry a Unix mode in the high 16 bits. */
const UNIX_HOSTS = new Set([3 /* Unix */, 19 /* OS X */])
const S_IFMT = 0o170000
const S_IFDIR = 0o040000
const S_IFLNK = 0o120000
const DOS_DIRECTORY = 0x10

export interface Entry extends PathEntry {
  readonly mode: number
  readonly method: number
  readonly crc32: number
  readonly compressedSize: number
  readonly uncompressedSize: number
  readonly localHeaderOffset: number
  readonly rawName: Buffer
  dataOffset: number
  linkTarget?: string
}

/** Every entry of the archive, checked, with its data offset and (for symlinks) its target. */
export async function readEntries(zip: FileHandle, zipPath: string, limits: Required<ZipLimits>): Promise<Entry[]> {
  const size = (await zip.stat()).size
  const { entries, centralOffset } = await readCentralDirectory(zip, zipPath, size, limits)
  await checkLocalHeaders(zip, zipPath, entries, centralOffset)
  const problem = treeProblem(entries)
  if (problem !== undefined) {
    throw refuse(zipPath, problem.entry.name, problem.problem)
  }
  await readLinkTargets(zip, zipPath, entries)
  return entries
}

// ---- Central directory -------------------------------------------------------------------

async function readCentralDirectory(
  zip: FileHandle,
  zipPath: string,
  size: number,
  limits: Required<ZipLimits>,
): Promise<{ entries: Entry[]; centralOffset: number }> {
  const tailSize = Math.min(size, END_SIZE + MAX_COMMENT + 20)
  const tail = await readAt(zip, size - tailSize, tailSize)
  let end = -1
  // The last end record whose comment runs exactly to the end of the file.
  for (let i = tail.length - END_SIZE; i >= 0; i--) {
    if (tail.readUInt32LE(i) === SIG_END && i + END_SIZE + tail.readUInt16LE(i + 20) === tail.length) {
      end = i
      break
    }
  }
  if (end < 0) {
    throw refuse(zipPath, undefined, 'not a zip archive (no end of central directory record)')
  }
  let disk = tail.readUInt16LE(end + 4)
  let centralDisk = tail.readUInt16LE(end + 6)
  let entriesOnDisk = tail.readUInt16LE(end + 8)
  let entryCount = tail.readUInt16LE(end + 10)
  let centralSize = tail.readUInt32LE(end + 12)
  let centralOffset = tail.readUInt32LE(end + 16)
  const endOffset = size - tailSize + end
  let centralLimit = endOffset

  if (end >= 20 && tail.readUInt32LE(end - 20) === SIG_ZIP64_LOCATOR) {
    const zip64Offset = safeNumber(zipPath, undefined, tail.readBigUInt64LE(end - 20 + 8))
    if (zip64Offset + 56 > endOffset - 20) {
      throw refuse(zipPath, undefined, 'corrupt: ZIP64 end record lies outside the archive')
    }
    const record = await readAt(zip, zip64Offset, 56)
    if (record.readUInt32LE(0) !== SIG_ZIP64_END) {
      throw refuse(zipPath, undefined, 'corrupt: ZIP64 end record signature')
    }
    disk = record.readUInt32LE(16)
    centralDisk = record.readUInt32LE(20)
    entriesOnDisk = safeNumber(zipPath, undefined, record.readBigUInt64LE(24))
    entryCount = safeNumber(zipPath, undefined, record.readBigUInt64LE(32))
    centralSize = safeNumber(zipPath, undefined, record.readBigUInt64LE(40))
    centralOffset = safeNumber(zipPath, undefined, record.readBigUInt64LE(48))
    centralLimit = zip64Offset
  } else if (entryCount === 0xffff || centralSize === 0xffffffff || centralOffset === 0xffffffff) {
    throw refuse(zipPath, undefined, 'unsupported: ZIP64 fields without a ZIP64 end record')
  }
  if (disk !== 0 || centralDisk !== 0 || entriesOnDisk !== entryCount) {
    throw refuse(zipPath, undefined, 'unsupported: a multi-volume (split) zip')
  }
  if (entryCount > limits.maxEntries) {
    throw refuse(zipPath, undefined, `too many entries (${entryCount}; the limit is ${limits.maxEntries})`)
  }
  if (centralSize > MAX_CENTRAL_BYTES || centralOffset + centralSize > centralLimit) {
    throw refuse(zipPath, undefined, 'corrupt: the central directory lies outside the archive')
  }
  const central = await readAt(zip, centralOffset, centralSize)
  const entries: Entry[] = []
  let totalBytes = 0
  let at = 0
  for (let index = 0; index < entryCount; index++) {
    if (at + CENTRAL_SIZE > central.length || central.readUInt32LE(at) !== SIG_CENTRAL) {
      throw refuse(zipPath, undefined, `corrupt: central directory entry ${index} is missing or malformed`)
    }
    const entry = parseCentralEntry(zipPath, central, at)
    at += CENTRAL_SIZE + central.readUInt16LE(at + 28) + central.readUInt16LE(at + 30) + central.readUInt16LE(at + 32)
    if (at > central.length) {
      throw refuse(zipPath, entry.name, 'corrupt: the entry runs past the central directory')
    }
    if (entry.localHeaderOffset + LOCAL_SIZE > centralOffset) {
      throw refuse(zipPath, entry.name, 'corrupt: its local header lies outside the archive')
    }
    totalBytes += entry.uncompressedSize
    if (totalBytes > limits.maxTotalBytes) {
      throw refuse(
        zipPath,
        entry.name,
        `the archive unpacks to more than ${limits.maxTotalBytes} bytes (at least ${totalBytes} declared so far)`,
      )
    }
    const { uncompressedSize, compressedSize } = entry
    if (uncompressedSize > limits.ratioGraceBytes && uncompressedSize > compressedSize * limits.maxEntryRatio) {
      throw refuse(
        zipPath,
        entry.name,
        `refused as a zip bomb: ${uncompressedSize} bytes from ${compressedSize} compressed (ratio over ${limits.maxEntryRatio})`,
      )
    }
    entries.push(entry)
  }
  if (at !== central.length) {
    throw refuse(zipPath, undefined, `corrupt: the central directory holds more than its ${entryCount} entries`)
  }
  return { entries, centralOffset }
}

function parseCentralEntry(zipPath: string, central: Buffer, at: number): Entry {
  const madeBy = central.readUInt16LE(at + 4)
  const flags = central.readUInt16LE(at + 8)
  const method = central.readUInt16LE(at + 10)
  const crc32 = central.readUInt32LE(at + 16)
  let compressedSize = central.readUInt32LE(at + 20)
  let uncompressedSize = central.readUInt32LE(at + 24)
  const nameLength = central.readUInt16LE(at + 28)
  const extraLength = central.readUInt16LE(at + 30)
  let diskStart = central.readUInt16LE(at + 34)
  const externalAttributes = central.readUInt32LE(at + 38)
  let localHeaderOffset = central.readUInt32LE(at + 42)
  const rawName = central.subarray(at + CENTRAL_SIZE, at + CENTRAL_SIZE + nameLength)
  const name = decodeName(zipPath, rawName, flags)

  // ZIP64 extra field (0x0001): 64-bit values for exactly the fields saturated above, in this order.
  const extra = central.subarray(at + CENTRAL_SIZE + nameLength, at + CENTRAL_SIZE + nameLength + extraLength)
  const zip64 = findExtra(extra, 0x0001)
  if (uncompressedSize === 0xffffffff || compressedSize === 0xffffffff || localHeaderOffset === 0xffffffff || diskStart === 0xffff) {
    if (zip64 === undefined) {
      throw refuse(zipPath, name, 'corrupt: ZIP64 sizes without a ZIP64 extra field')
    }
    let cursor = 0
    const next64 = (): number => {
      if (cursor + 8 > zip64.length) {
        throw refuse(zipPath, name, 'corrupt: ZIP64 extra field too short')
      }
      const value = safeNumber(zipPath, name, zip64.readBigUInt64LE(cursor))
      cursor += 8
      return value
    }
    uncompressedSize = uncompressedSize === 0xffffffff ? next64() : uncompressedSize
    compressedSize = compressedSize === 0xffffffff ? next64() : compressedSize
    localHeaderOffset = localHeaderOffset === 0xffffffff ? next64() : localHeaderOffset
    if (diskStart === 0xffff) {
      diskStart = cursor + 4 <= zip64.length ? zip64.readUInt32LE(cursor) : -1
    }
  }
  if (diskStart !== 0) {
    throw refuse(zipPath, name, 'unsupported: the entry starts on another volume')
  }
  if ((flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION | FLAG_MASKED_HEADERS)) !== 0 || method === 99) {
    throw refuse(zipPath, name, 'encrypted entries are not supported')
  }
  if (method !== METHOD_STORED && method !== METHOD_DEFLATED) {
    throw refuse(zipPath, name, `compression method ${method} is not supported (only stored and deflated)`)
  }
  if (method === METHOD_STORED && compressedSize !== uncompressedSize) {
    throw refuse(zipPath, name, `corrupt: a stored entry with different sizes (${compressedSize} stored, ${uncompressedSize} declared)`)
  }

  const unixMode = UNIX_HOSTS.has(madeBy >>> 8) ? externalAttributes >>> 16 : 0
  const type = unixMode & S_IFMT
  const trailingSlash = name.endsWith('/')
  let kind: EntryKind
  if (type === S_IFLNK) {
    kind = 'symlink'
  } else if (trailingSlash || type === S_IFDIR || (unixMode === 0 && (externalAttributes & DOS_DIRECTORY) !== 0)) {
    kind = 'directory'
  } else {
    // Regular, or a FIFO/device/socket mode (Info-ZIP gives `cat x | zip a.zip -` a FIFO's mode):
    // written as a regular file with the entry's bytes, as unzip does. We never create a device.
    kind = 'file'
  }
  if (kind === 'directory' && (uncompressedSize !== 0 || (type !== 0 && type !== S_IFDIR))) {
    throw refuse(zipPath, name, 'corrupt: a folder entry with content or a non-folder mode')
  }
  if (kind === 'symlink' && (trailingSlash || uncompressedSize === 0 || uncompressedSize > MAX_LINK_BYTES || compressedSize > 2 * MAX_LINK_BYTES)) {
    throw refuse(zipPath, name, `corrupt: a symlink target must be 1 to ${MAX_LINK_BYTES} bytes`)
  }
  const normalised = normalisePath(name)
  if ('problem' in normalised) {
    throw refuse(zipPath, name, normalised.problem)
  }
  const relative = normalised.path
  if (relative === '' && kind !== 'directory') {
    throw refuse(zipPath, name, 'refused: an empty path')
  }
  return {
    name,
    path: relative,
    kind,
    mode: kind === 'file' ? ((unixMode & 0o111) !== 0 ? 0o755 : 0o644) : 0o755,
    method,
    crc32,
    compressedSize,
    uncompressedSize,
    localHeaderOffset,
    rawName: Buffer.from(rawName),
    dataOffset: -1,
  }
}

function decodeName(zipPath: string, raw: Buffer, flags: number): string {
  try {
    // UTF-8 whether or not flag 11 is set: Info-ZIP on Linux stores the file system's bytes.
    return new TextDecoder('utf-8', { fatal: true }).decode(raw)
  } catch {
    const shown = raw.toString('latin1')
    throw refuse(zipPath, shown, (flags & FLAG_UTF8) !== 0 ? 'corrupt: the name is not valid UTF-8' : 'unsupported: a name that is not UTF-8')
  }
}

function findExtra(extra: Buffer, id: number): Buffer | undefined {
  let at = 0
  while (at + 4 <= extra.length) {
    const size = extra.readUInt16LE(at + 2)
    if (extra.readUInt16LE(at) === id) {
      return extra.subarray(at + 4, Math.min(extra.length, at + 4 + size))
    }
    at += 4 + size
  }
  return undefined
}

// ---- Consistency -------------------------------------------------------------------------

/** Local headers must agree with the central directory, and no two entries may share bytes. */
async function checkLocalHeaders(zip: FileHandle, zipPath: string, entries: Entry[], centralOffset: number): Promise<void> {
  for (const entry of entries) {
    // The header and, if it agrees, the name in one read.
    const header = await readAt(zip, entry.localHeaderOffset, LOCAL_SIZE + entry.rawName.length)
    if (header.length < LOCAL_SIZE || header.readUInt32LE(0) !== SIG_LOCAL) {
      throw refuse(zipPath, entry.name, 'corrupt: no local header where the central directory points')
    }
    const flags = header.readUInt16LE(6)
    const method = header.readUInt16LE(8)
    const nameLength = header.readUInt16LE(26)
    const extraLength = header.readUInt16LE(28)
    const localName = header.subarray(LOCAL_SIZE, LOCAL_SIZE + nameLength)
    if ((flags & FLAG_ENCRYPTED) !== 0) {
      throw refuse(zipPath, entry.name, 'encrypted entries are not supported')
    }
    if (method !== entry.method || !localName.equals(entry.rawName)) {
      throw refuse(zipPath, entry.name, 'corrupt: the local header disagrees with the central directory (name or method)')
    }
    entry.dataOffset = entry.localHeaderOffset + LOCAL_SIZE + nameLength + extraLength
    if (entry.dataOffset + entry.compressedSize > centralOffset) {
      throw refuse(zipPath, entry.name, `corrupt: its ${entry.compressedSize} compressed bytes run past the entries (sizes lie)`)
    }
  }
  const byOffset = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset)
  let previousEnd = 0
  let previous: Entry | undefined
  for (const entry of byOffset) {
    if (previous !== undefined && entry.localHeaderOffset < previousEnd) {
      throw refuse(zipPath, entry.name, `refused as a zip bomb: its data overlaps entry ${JSON.stringify(previous.name)}`)
    }
    previousEnd = entry.dataOffset + entry.compressedSize
    previous = entry
  }
}

/** Reads every symlink's target and refuses the ones that point outside the layer. */
async function readLinkTargets(zip: FileHandle, zipPath: string, entries: readonly Entry[]): Promise<void> {
  const kinds = new Map(entries.map((entry) => [entry.path, entry.kind]))
  for (const entry of entries) {
    if (entry.kind !== 'symlink') {
      continue
    }
    const stored = await readAt(zip, entry.dataOffset, entry.compressedSize)
    let data: Buffer
    try {
      data = entry.method === METHOD_DEFLATED ? zlib.inflateRawSync(stored, { maxOutputLength: MAX_LINK_BYTES }) : stored
    } catch (error) {
      throw refuse(zipPath, entry.name, `corrupt data (${errnoOf(error)})`, error)
    }
    if (data.length !== entry.uncompressedSize || crc32Of(data, 0) !== entry.crc32) {
      throw refuse(zipPath, entry.name, 'corrupt: the symlink target does not match its declared size and CRC')
    }
    const target = data.toString('utf8')
    const outside = linkLeavesLayer(entry.path, target, kinds)
    if (outside !== undefined) {
      throw refuse(zipPath, entry.name, `unsafe symlink: its target ${JSON.stringify(target)} ${outside}`)
    }
    entry.linkTarget = target
  }
}

// ---- Helpers -----------------------------------------------------------------------------

export function refuse(zipPath: string, entry: string | undefined, reason: string, cause?: unknown): HarnessError {
  const where = entry === undefined ? '' : ` entry ${JSON.stringify(entry)}:`
  return new HarnessError('ERR_BAD_INPUT', `zip ${JSON.stringify(zipPath)}:${where} ${reason}`, cause === undefined ? {} : { cause })
}

export function errnoOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return typeof code === 'string' ? code : error instanceof Error ? error.message : String(error)
}

export async function readAt(zip: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length)
  let done = 0
  while (done < length) {
    const { bytesRead } = await zip.read(buffer, done, length - done, position + done)
    if (bytesRead === 0) {
      break
    }
    done += bytesRead
  }
  return buffer.subarray(0, done)
}

function safeNumber(zipPath: string, entry: string | undefined, value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw refuse(zipPath, entry, 'unsupported: a ZIP64 value past 2^53')
  }
  return Number(value)
}

// zlib.crc32 arrived in Node 20.15; the table is for 20.5–20.14 (package.json says >=20.5).
const CRC_TABLE = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) {
    c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  }
  return c
})

export function crc32Of(data: Buffer, previous: number): number {
  if (typeof zlib.crc32 === 'function') {
    return zlib.crc32(data, previous)
  }
  let crc = ~previous
  for (let i = 0; i < data.length; i++) {
    crc = CRC_TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8)
  }
  return ~crc >>> 0
}
