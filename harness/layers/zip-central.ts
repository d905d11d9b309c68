// A layer zip's central directory: the end record (ZIP64 too), then every entry checked for its
// format (stored and deflated, no encryption, one volume), declared sizes within the limits, kind
// and a safe path (zip-paths.ts). Nothing is written here.
import type { FileHandle } from 'node:fs/promises'
import { normalisePath, type EntryKind } from './zip-paths.js'
import {
  CENTRAL_SIZE,
  DOS_DIRECTORY,
  END_SIZE,
  FLAG_ENCRYPTED,
  FLAG_MASKED_HEADERS,
  FLAG_STRONG_ENCRYPTION,
  FLAG_UTF8,
  LOCAL_SIZE,
  MAX_CENTRAL_BYTES,
  MAX_COMMENT,
  MAX_LINK_BYTES,
  METHOD_DEFLATED,
  METHOD_STORED,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  SIG_CENTRAL,
  SIG_END,
  SIG_ZIP64_END,
  SIG_ZIP64_LOCATOR,
  UNIX_HOSTS,
  readAt,
  refuse,
  safeNumber,
  type Entry,
  type ZipLimits,
} from './zip-format.js'

/** What the end of central directory record (or its ZIP64 form) says about the directory. */
interface EndRecord {
  readonly disk: number
  readonly centralDisk: number
  readonly entriesOnDisk: number
  readonly entryCount: number
  readonly centralSize: number
  readonly centralOffset: number
  /** The directory must end before this offset (the end record or the ZIP64 one). */
  readonly centralLimit: number
}

export async function readCentralDirectory(
  zip: FileHandle,
  zipPath: string,
  size: number,
  limits: Required<ZipLimits>,
): Promise<{ entries: Entry[]; centralOffset: number }> {
  const end = await readEndRecord(zip, zipPath, size)
  const { entryCount, centralSize, centralOffset } = end
  if (end.disk !== 0 || end.centralDisk !== 0 || end.entriesOnDisk !== entryCount) {
    throw refuse(zipPath, undefined, 'unsupported: a multi-volume (split) zip')
  }
  if (entryCount > limits.maxEntries) {
    throw refuse(zipPath, undefined, `too many entries (${entryCount}; the limit is ${limits.maxEntries})`)
  }
  if (centralSize > MAX_CENTRAL_BYTES || centralOffset + centralSize > end.centralLimit) {
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
    checkEntrySize(zipPath, entry, totalBytes, limits)
    entries.push(entry)
  }
  if (at !== central.length) {
    throw refuse(zipPath, undefined, `corrupt: the central directory holds more than its ${entryCount} entries`)
  }
  return { entries, centralOffset }
}

/** The last end record whose comment runs exactly to the end of the file, with its ZIP64 values if it has them. */
async function readEndRecord(zip: FileHandle, zipPath: string, size: number): Promise<EndRecord> {
  const tailSize = Math.min(size, END_SIZE + MAX_COMMENT + 20)
  const tail = await readAt(zip, size - tailSize, tailSize)
  let end = -1
  for (let i = tail.length - END_SIZE; i >= 0; i--) {
    if (tail.readUInt32LE(i) === SIG_END && i + END_SIZE + tail.readUInt16LE(i + 20) === tail.length) {
      end = i
      break
    }
  }
  if (end < 0) {
    throw refuse(zipPath, undefined, 'not a zip archive (no end of central directory record)')
  }
  const endOffset = size - tailSize + end
  if (end >= 20 && tail.readUInt32LE(end - 20) === SIG_ZIP64_LOCATOR) {
    return readZip64EndRecord(zip, zipPath, safeNumber(zipPath, undefined, tail.readBigUInt64LE(end - 20 + 8)), endOffset)
  }
  const record: EndRecord = {
    disk: tail.readUInt16LE(end + 4),
    centralDisk: tail.readUInt16LE(end + 6),
    entriesOnDisk: tail.readUInt16LE(end + 8),
    entryCount: tail.readUInt16LE(end + 10),
    centralSize: tail.readUInt32LE(end + 12),
    centralOffset: tail.readUInt32LE(end + 16),
    centralLimit: endOffset,
  }
  if (record.entryCount === 0xffff || record.centralSize === 0xffffffff || record.centralOffset === 0xffffffff) {
    throw refuse(zipPath, undefined, 'unsupported: ZIP64 fields without a ZIP64 end record')
  }
  return record
}

async function readZip64EndRecord(zip: FileHandle, zipPath: string, zip64Offset: number, endOffset: number): Promise<EndRecord> {
  if (zip64Offset + 56 > endOffset - 20) {
    throw refuse(zipPath, undefined, 'corrupt: ZIP64 end record lies outside the archive')
  }
  const record = await readAt(zip, zip64Offset, 56)
  if (record.readUInt32LE(0) !== SIG_ZIP64_END) {
    throw refuse(zipPath, undefined, 'corrupt: ZIP64 end record signature')
  }
  return {
    disk: record.readUInt32LE(16),
    centralDisk: record.readUInt32LE(20),
    entriesOnDisk: safeNumber(zipPath, undefined, record.readBigUInt64LE(24)),
    entryCount: safeNumber(zipPath, undefined, record.readBigUInt64LE(32)),
    centralSize: safeNumber(zipPath, undefined, record.readBigUInt64LE(40)),
    centralOffset: safeNumber(zipPath, undefined, record.readBigUInt64LE(48)),
    centralLimit: zip64Offset,
  }
}

/** The archive's declared total and the entry's compression ratio, within the limits. */
function checkEntrySize(zipPath: string, entry: Entry, totalBytes: number, limits: Required<ZipLimits>): void {
  if (totalBytes > limits.maxTotalBytes) {
    throw refuse(zipPath, entry.name, `the archive unpacks to more than ${limits.maxTotalBytes} bytes (at least ${totalBytes} declared so far)`)
  }
  const { uncompressedSize, compressedSize } = entry
  if (uncompressedSize > limits.ratioGraceBytes && uncompressedSize > compressedSize * limits.maxEntryRatio) {
    throw refuse(zipPath, entry.name, `refused as a zip bomb: ${uncompressedSize} bytes from ${compressedSize} compressed (ratio over ${limits.maxEntryRatio})`)
  }
}

/** The sizes and offset of a central directory entry, ZIP64's 64-bit values replacing the saturated ones. */
interface EntryPlace {
  readonly compressedSize: number
  readonly uncompressedSize: number
  readonly localHeaderOffset: number
}

function parseCentralEntry(zipPath: string, central: Buffer, at: number): Entry {
  const madeBy = central.readUInt16LE(at + 4)
  const flags = central.readUInt16LE(at + 8)
  const method = central.readUInt16LE(at + 10)
  const crc32 = central.readUInt32LE(at + 16)
  const nameLength = central.readUInt16LE(at + 28)
  const externalAttributes = central.readUInt32LE(at + 38)
  const rawName = central.subarray(at + CENTRAL_SIZE, at + CENTRAL_SIZE + nameLength)
  const name = decodeName(zipPath, rawName, flags)
  const { compressedSize, uncompressedSize, localHeaderOffset } = readEntryPlace(zipPath, central, at, name)
  checkEntryMethod(zipPath, name, flags, method, compressedSize, uncompressedSize)
  const unixMode = UNIX_HOSTS.has(madeBy >>> 8) ? externalAttributes >>> 16 : 0
  const kind = entryKind(zipPath, name, unixMode, externalAttributes, compressedSize, uncompressedSize)
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

function readEntryPlace(zipPath: string, central: Buffer, at: number, name: string): EntryPlace {
  let compressedSize = central.readUInt32LE(at + 20)
  let uncompressedSize = central.readUInt32LE(at + 24)
  const nameLength = central.readUInt16LE(at + 28)
  const extraLength = central.readUInt16LE(at + 30)
  let diskStart = central.readUInt16LE(at + 34)
  let localHeaderOffset = central.readUInt32LE(at + 42)
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
  return { compressedSize, uncompressedSize, localHeaderOffset }
}

/** Stored or deflated, not encrypted; a stored entry's two sizes agree. */
function checkEntryMethod(zipPath: string, name: string, flags: number, method: number, compressedSize: number, uncompressedSize: number): void {
  if ((flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION | FLAG_MASKED_HEADERS)) !== 0 || method === 99) {
    throw refuse(zipPath, name, 'encrypted entries are not supported')
  }
  if (method !== METHOD_STORED && method !== METHOD_DEFLATED) {
    throw refuse(zipPath, name, `compression method ${method} is not supported (only stored and deflated)`)
  }
  if (method === METHOD_STORED && compressedSize !== uncompressedSize) {
    throw refuse(zipPath, name, `corrupt: a stored entry with different sizes (${compressedSize} stored, ${uncompressedSize} declared)`)
  }
}

/** File, folder or symlink, from the Unix mode (or the DOS folder bit) and the name's trailing slash. */
function entryKind(zipPath: string, name: string, unixMode: number, externalAttributes: number, compressedSize: number, uncompressedSize: number): EntryKind {
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
  return kind
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

