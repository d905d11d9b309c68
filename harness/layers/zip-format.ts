// The zip format's numbers, the entry as the unpacker keeps it, and the small readers every part of
// the unpacker shares (PKWARE's APPNOTE.TXT).
import type { FileHandle } from 'node:fs/promises'
import zlib from 'node:zlib'
import { HarnessError } from '../errors.js'
import type { PathEntry } from './zip-paths.js'

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

export const SIG_LOCAL = 0x04034b50
export const SIG_CENTRAL = 0x02014b50
export const SIG_END = 0x06054b50
export const SIG_ZIP64_END = 0x06064b50
export const SIG_ZIP64_LOCATOR = 0x07064b50
export const END_SIZE = 22
export const MAX_COMMENT = 0xffff
export const CENTRAL_SIZE = 46
export const LOCAL_SIZE = 30
/** A central directory past this is not a layer (100 000 entries with long names fit easily). */
export const MAX_CENTRAL_BYTES = 64 * 1024 * 1024
/** Linux PATH_MAX, the longest symlink target we accept. */
export const MAX_LINK_BYTES = 4095

export const METHOD_STORED = 0
export const METHOD_DEFLATED = 8
export const FLAG_ENCRYPTED = 0x0001
export const FLAG_STRONG_ENCRYPTION = 0x0040
export const FLAG_UTF8 = 0x0800
export const FLAG_MASKED_HEADERS = 0x2000
/** "Version made by" hosts whose external attributes carry a Unix mode in the high 16 bits. */
export const UNIX_HOSTS = new Set([3 /* Unix */, 19 /* OS X */])
export const S_IFMT = 0o170000
export const S_IFDIR = 0o040000
export const S_IFLNK = 0o120000
export const DOS_DIRECTORY = 0x10

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

export function safeNumber(zipPath: string, entry: string | undefined, value: bigint): number {
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
