// A tiny zip writer for tests: honest by default, and every field can be made to lie, so each
// refusal of the extractor is exercised without binary fixtures or the `zip` command.
import zlib from 'node:zlib'

export interface ZipEntrySpec {
  readonly name: string
  readonly data?: Buffer | string
  /** Unix mode with type bits. Default 0o100644 (file), 0o040755 (name ending in /). */
  readonly mode?: number
  readonly method?: 'stored' | 'deflated' | number
  /** Bytes to store as the entry's data instead of compressing `data` (e.g. a prepared bomb). */
  readonly compressed?: Buffer
  /** The uncompressed size to declare. Default the real one. */
  readonly declaredSize?: number
  /** The compressed size to declare. Default the real one. */
  readonly declaredCompressedSize?: number
  readonly crc?: number
  readonly flags?: number
  /** "Version made by" host: 3 Unix (default), 0 MS-DOS. */
  readonly host?: number
  readonly externalAttributes?: number
  /** The name in the local header, if it should differ from the central directory's. */
  readonly localName?: string
  /** Point the central entry at this earlier entry's local header (overlapping entries). */
  readonly sameDataAs?: number
}

export interface ZipOptions {
  /** Write ZIP64 extra fields and a ZIP64 end record, as streaming writers do. */
  readonly zip64?: boolean
  readonly comment?: string
}

export function crc32(data: Buffer): number {
  return zlib.crc32(data)
}

export function buildZip(entries: readonly ZipEntrySpec[], options: ZipOptions = {}): Buffer {
  const locals: Buffer[] = []
  const centrals: Buffer[] = []
  const offsets: number[] = []
  let offset = 0
  for (const entry of entries) {
    const data = typeof entry.data === 'string' ? Buffer.from(entry.data) : (entry.data ?? Buffer.alloc(0))
    const method = entry.method === 'deflated' ? 8 : entry.method === 'stored' || entry.method === undefined ? 0 : entry.method
    const stored = entry.compressed ?? (method === 8 ? zlib.deflateRawSync(data) : data)
    const name = Buffer.from(entry.name)
    const localName = Buffer.from(entry.localName ?? entry.name)
    const crc = entry.crc ?? crc32(data)
    const size = entry.declaredSize ?? data.length
    const compressedSize = entry.declaredCompressedSize ?? stored.length
    const flags = entry.flags ?? 0x0800
    const mode = entry.mode ?? (entry.name.endsWith('/') ? 0o040755 : 0o100644)
    const external = entry.externalAttributes ?? ((mode << 16) >>> 0) | (entry.name.endsWith('/') ? 0x10 : 0)
    const zip64 = options.zip64 === true
    const localOffset = entry.sameDataAs === undefined ? offset : offsets[entry.sameDataAs]!
    offsets.push(localOffset)

    if (entry.sameDataAs === undefined) {
      const localExtra = zip64 ? zip64Extra([size, compressedSize]) : Buffer.alloc(0)
      const local = Buffer.alloc(30)
      local.writeUInt32LE(0x04034b50, 0)
      local.writeUInt16LE(zip64 ? 45 : 20, 4)
      local.writeUInt16LE(flags, 6)
      local.writeUInt16LE(method, 8)
      local.writeUInt32LE(crc, 14)
      local.writeUInt32LE(zip64 ? 0xffffffff : compressedSize, 18)
      local.writeUInt32LE(zip64 ? 0xffffffff : size, 22)
      local.writeUInt16LE(localName.length, 26)
      local.writeUInt16LE(localExtra.length, 28)
      locals.push(local, localName, localExtra, stored)
      offset += local.length + localName.length + localExtra.length + stored.length
    }

    const centralExtra = zip64 ? zip64Extra([size, compressedSize, localOffset]) : Buffer.alloc(0)
    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0)
    central.writeUInt16LE(((entry.host ?? 3) << 8) | 45, 4)
    central.writeUInt16LE(zip64 ? 45 : 20, 6)
    central.writeUInt16LE(flags, 8)
    central.writeUInt16LE(method, 10)
    central.writeUInt32LE(crc, 16)
    central.writeUInt32LE(zip64 ? 0xffffffff : compressedSize, 20)
    central.writeUInt32LE(zip64 ? 0xffffffff : size, 24)
    central.writeUInt16LE(name.length, 28)
    central.writeUInt16LE(centralExtra.length, 30)
    central.writeUInt32LE(external >>> 0, 38)
    central.writeUInt32LE(zip64 ? 0xffffffff : localOffset, 42)
    centrals.push(central, name, centralExtra)
  }
  const centralDir = Buffer.concat(centrals)
  const comment = Buffer.from(options.comment ?? '')
  const tail: Buffer[] = []
  if (options.zip64 === true) {
    const record = Buffer.alloc(56)
    record.writeUInt32LE(0x06064b50, 0)
    record.writeBigUInt64LE(44n, 4)
    record.writeUInt16LE(45, 12)
    record.writeUInt16LE(45, 14)
    record.writeBigUInt64LE(BigInt(entries.length), 24)
    record.writeBigUInt64LE(BigInt(entries.length), 32)
    record.writeBigUInt64LE(BigInt(centralDir.length), 40)
    record.writeBigUInt64LE(BigInt(offset), 48)
    const locator = Buffer.alloc(20)
    locator.writeUInt32LE(0x07064b50, 0)
    locator.writeBigUInt64LE(BigInt(offset + centralDir.length), 8)
    locator.writeUInt32LE(1, 16)
    tail.push(record, locator)
  }
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(options.zip64 === true ? 0xffff : entries.length, 8)
  end.writeUInt16LE(options.zip64 === true ? 0xffff : entries.length, 10)
  end.writeUInt32LE(options.zip64 === true ? 0xffffffff : centralDir.length, 12)
  end.writeUInt32LE(options.zip64 === true ? 0xffffffff : offset, 16)
  end.writeUInt16LE(comment.length, 20)
  return Buffer.concat([...locals, centralDir, ...tail, end, comment])
}

function zip64Extra(values: readonly number[]): Buffer {
  const extra = Buffer.alloc(4 + 8 * values.length)
  extra.writeUInt16LE(0x0001, 0)
  extra.writeUInt16LE(8 * values.length, 2)
  values.forEach((value, index) => extra.writeBigUInt64LE(BigInt(value), 4 + 8 * index))
  return extra
}

/** Raw deflate of `totalBytes` zeros, streamed so the zeros never sit in memory at once. */
export async function deflatedZeros(totalBytes: number): Promise<{ compressed: Buffer; crc: number }> {
  const chunk = Buffer.alloc(1024 * 1024)
  const deflate = zlib.createDeflateRaw({ level: 9 })
  const out: Buffer[] = []
  deflate.on('data', (data: Buffer) => out.push(data))
  const done = new Promise<void>((resolve, reject) => {
    deflate.on('end', resolve)
    deflate.on('error', reject)
  })
  let crc = 0
  for (let left = totalBytes; left > 0; left -= chunk.length) {
    const part = left >= chunk.length ? chunk : chunk.subarray(0, left)
    crc = zlib.crc32(part, crc)
    if (!deflate.write(part)) {
      await new Promise((resolve) => deflate.once('drain', resolve))
    }
  }
  deflate.end()
  await done
  return { compressed: Buffer.concat(out), crc }
}
