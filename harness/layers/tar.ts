// A streaming tar reader (ustar, pax and GNU long names; gzip-compressed or not) for image file
// systems: `docker export`, and the layers of `docker save` and OCI images. tar-extract.ts
// unpacks what it reads.
import { createReadStream } from 'node:fs'
import { createGunzip } from 'node:zlib'
import { HarnessError } from '../errors.js'

export interface TarHeader {
  /** As stored (after pax/GNU long names), for messages. */
  readonly name: string
  /** 'file' | 'directory' | 'symlink' | 'hardlink' | 'device' | 'fifo' | 'other' */
  readonly kind: 'file' | 'directory' | 'symlink' | 'hardlink' | 'device' | 'fifo' | 'other'
  readonly size: number
  readonly mode: number
  readonly linkName: string
  /** Byte offset of the entry's data in the (uncompressed) tar. */
  readonly dataOffset: number
}

/** What a visitor does with an entry's data: receives it chunk by chunk, then end(). */
export interface DataSink {
  write(chunk: Buffer): void
  end(): void
}

const BLOCK = 512

/**
 * Reads a tar (gzip-compressed or not) from `file` (bytes `start` to `end`, inclusive) and calls
 * `visit` for each entry; a returned sink gets the entry's data. Synchronous visitors keep the
 * order of side effects the order of the archive.
 */
export async function readTar(file: string, visit: (header: TarHeader) => DataSink | undefined, range: { start?: number; end?: number } = {}): Promise<void> {
  const first = await firstBytes(file, range.start ?? 0)
  let source: AsyncIterable<Buffer> = createReadStream(file, range)
  if (first[0] === 0x1f && first[1] === 0x8b) {
    source = createReadStream(file, range).pipe(createGunzip())
  }
  const parser = new TarParser(file, visit)
  for await (const chunk of source) {
    parser.push(chunk as Buffer)
  }
  parser.finish()
}

async function firstBytes(file: string, start: number): Promise<Buffer> {
  for await (const chunk of createReadStream(file, { start, end: start + 1 })) {
    return chunk as Buffer
  }
  return Buffer.alloc(0)
}

class TarParser {
  #pending: Buffer[] = []
  #pendingBytes = 0
  #offset = 0
  /** Bytes of the current entry's data (and padding) still to come, and who gets them. */
  #dataLeft = 0
  #padLeft = 0
  #sink: DataSink | undefined
  #longName: string | undefined
  #longLink: string | undefined
  #pax: Record<string, string> = {}
  #paxData: Buffer[] | undefined
  #paxKind = ''
  #ended = false
  readonly #file: string
  readonly #visit: (header: TarHeader) => DataSink | undefined

  constructor(file: string, visit: (header: TarHeader) => DataSink | undefined) {
    this.#file = file
    this.#visit = visit
  }

  push(chunk: Buffer): void {
    let rest = chunk
    while (rest.length > 0 && !this.#ended) {
      if (this.#dataLeft > 0 || this.#padLeft > 0) {
        rest = this.#data(rest)
        continue
      }
      const need = BLOCK - this.#pendingBytes
      this.#pending.push(rest.subarray(0, need))
      this.#pendingBytes += Math.min(need, rest.length)
      rest = rest.subarray(need)
      if (this.#pendingBytes === BLOCK) {
        const block = Buffer.concat(this.#pending)
        this.#pending = []
        this.#pendingBytes = 0
        this.#offset += BLOCK
        this.#header(block)
      }
    }
  }

  finish(): void {
    if (this.#dataLeft > 0 || this.#pendingBytes > 0) {
      throw badTar(this.#file, 'corrupt: the archive ends inside an entry')
    }
  }

  #data(chunk: Buffer): Buffer {
    if (this.#dataLeft > 0) {
      const part = chunk.subarray(0, this.#dataLeft)
      this.#dataLeft -= part.length
      this.#offset += part.length
      this.#sink?.write(part)
      this.#paxData?.push(part)
      if (this.#dataLeft === 0) {
        this.#sink?.end()
        this.#sink = undefined
        this.#endMeta()
      }
      return chunk.subarray(part.length)
    }
    const pad = chunk.subarray(0, this.#padLeft)
    this.#padLeft -= pad.length
    this.#offset += pad.length
    return chunk.subarray(pad.length)
  }

  #header(block: Buffer): void {
    if (block.every((byte) => byte === 0)) {
      // Two zero blocks end the archive; one is enough to stop (what follows is padding).
      this.#ended = true
      return
    }
    if (!validChecksum(block)) {
      throw badTar(this.#file, `corrupt: bad header checksum at byte ${this.#offset - BLOCK}`)
    }
    const type = String.fromCharCode(block[156]!)
    const size = this.#pax.size !== undefined ? Number(this.#pax.size) : octal(block, 124, 12)
    if (!Number.isSafeInteger(size) || size < 0) {
      throw badTar(this.#file, `corrupt: bad entry size at byte ${this.#offset - BLOCK}`)
    }
    this.#dataLeft = size
    this.#padLeft = (BLOCK - (size % BLOCK)) % BLOCK
    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      // Metadata for the next entry: a pax header, a GNU long name or long link name.
      this.#paxKind = type
      this.#paxData = []
      if (size === 0) {
        this.#endMeta()
      }
      return
    }
    const prefix = cString(block, 345, 155)
    const stored = cString(block, 0, 100)
    const name = this.#pax.path ?? this.#longName ?? (prefix !== '' && isUstar(block) ? `${prefix}/${stored}` : stored)
    const linkName = this.#pax.linkpath ?? this.#longLink ?? cString(block, 157, 100)
    this.#pax = {}
    this.#longName = undefined
    this.#longLink = undefined
    const header: TarHeader = { name, kind: kindOf(type, name), size, mode: octal(block, 100, 8), linkName, dataOffset: this.#offset }
    this.#sink = this.#visit(header)
    if (size === 0) {
      this.#sink?.end()
      this.#sink = undefined
    }
  }

  #endMeta(): void {
    if (this.#paxData === undefined) {
      return
    }
    const text = Buffer.concat(this.#paxData).toString('utf8')
    this.#paxData = undefined
    if (this.#paxKind === 'L') {
      this.#longName = text.replace(/\0+$/, '')
    } else if (this.#paxKind === 'K') {
      this.#longLink = text.replace(/\0+$/, '')
    } else if (this.#paxKind === 'x') {
      // Records are "<length> <key>=<value>\n"; a global header ('g') does not name one entry.
      for (const match of text.matchAll(/^\d+ ([^=\n]+)=(.*)$/gm)) {
        this.#pax[match[1]!] = match[2]!
      }
    }
  }
}

function kindOf(type: string, name: string): TarHeader['kind'] {
  switch (type) {
    case '0':
    case '\0':
    case '7':
      return name.endsWith('/') ? 'directory' : 'file'
    case '5':
      return 'directory'
    case '2':
      return 'symlink'
    case '1':
      return 'hardlink'
    case '3':
    case '4':
      return 'device'
    case '6':
      return 'fifo'
    default:
      return 'other'
  }
}

function isUstar(block: Buffer): boolean {
  return block.toString('latin1', 257, 262) === 'ustar'
}

function cString(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length)
  const end = field.indexOf(0)
  return field.toString('utf8', 0, end === -1 ? length : end)
}

function octal(block: Buffer, start: number, length: number): number {
  if ((block[start]! & 0x80) !== 0) {
    // GNU base-256 for sizes over 8 GiB.
    let value = 0
    for (let i = start + 1; i < start + length; i++) {
      value = value * 256 + block[i]!
    }
    return value
  }
  const text = cString(block, start, length).trim()
  return text === '' ? 0 : parseInt(text, 8)
}

function validChecksum(block: Buffer): boolean {
  let sum = 0
  for (let i = 0; i < BLOCK; i++) {
    sum += i >= 148 && i < 156 ? 32 : block[i]!
  }
  return sum === octal(block, 148, 8)
}

export function badTar(file: string, why: string, cause?: unknown): HarnessError {
  return new HarnessError('ERR_BAD_INPUT', `image ${JSON.stringify(file)}: ${why}`, { cause })
}

