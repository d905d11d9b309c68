// A tar reader and a safe extractor for image file systems (`docker export`, the layers of
// `docker save` and OCI images). The same refusals as layer zips: names that leave the folder,
// writes through a symlink, hard links to anything but a file already extracted, devices, and
// more than Lambda's 10 GB image limit. Symlinks are kept as they are: absolute targets are normal
// in a root file system and resolve inside the sandbox, never on the host (nothing here follows one).
import { createReadStream, closeSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, rmSync, symlinkSync, writeSync } from 'node:fs'
import path from 'node:path'
import { createGunzip } from 'node:zlib'
import { HarnessError } from '../errors.js'
import { normalisePath } from './zip-paths.js'

/** Lambda's limit for a container image, uncompressed (Lambda quotas: "Container image code package size"). */
export const IMAGE_UNPACKED_LIMIT_BYTES = 10 * 1024 ** 3

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

/** An OCI/Docker whiteout: `.wh.<name>` deletes <name> of lower layers; `.wh..wh..opq` empties its folder. */
export type Whiteout = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'opaque'; readonly folder: string }

export function whiteoutOf(relPath: string): Whiteout | undefined {
  const base = path.posix.basename(relPath)
  if (!base.startsWith('.wh.')) {
    return undefined
  }
  const folder = path.posix.dirname(relPath)
  if (base === '.wh..wh..opq') {
    return { kind: 'opaque', folder: folder === '.' ? '' : folder }
  }
  return { kind: 'file', path: path.posix.join(folder, base.slice('.wh.'.length)) }
}

/**
 * Extracts tar entries into `dest` safely, one layer after another: later entries replace earlier
 * ones, whiteouts delete (with `layered`), and nothing is ever written through a symlink.
 */
export class SafeExtractor {
  #bytes = 0
  /** Paths this layer wrote: an opaque whiteout keeps them and removes what lower layers left. */
  #thisLayer = new Set<string>()
  readonly #dest: string
  readonly #source: string

  constructor(dest: string, source: string) {
    this.#dest = dest
    this.#source = source
  }

  startLayer(): void {
    this.#thisLayer = new Set()
  }

  /** The visitor for readTar(); `layered` honours whiteouts (image layers, not a flat export). */
  visitor(layered: boolean): (header: TarHeader) => DataSink | undefined {
    return (header) => this.#entry(header, layered)
  }

  #entry(header: TarHeader, layered: boolean): DataSink | undefined {
    const normal = normalisePath(header.name)
    if ('problem' in normal) {
      throw this.#refuse(header, normal.problem)
    }
    const rel = normal.path
    if (rel === '') {
      return undefined
    }
    if ((header.kind === 'device' || header.kind === 'fifo') && rel.startsWith('dev/')) {
      // A root's own /dev nodes (debootstrap makes them) lie under the sandbox's /dev: never seen, never made.
      return undefined
    }
    const whiteout = layered ? whiteoutOf(rel) : undefined
    if (whiteout !== undefined) {
      this.#applyWhiteout(header, whiteout)
      return undefined
    }
    const target = this.#place(header, rel)
    const parts = rel.split('/')
    parts.forEach((_, i) => this.#thisLayer.add(parts.slice(0, i + 1).join('/')))
    switch (header.kind) {
      case 'directory':
        if (lstatSync(target, { throwIfNoEntry: false })?.isDirectory() !== true) {
          this.#clear(target)
          mkdirSync(target, { mode: 0o755 })
        }
        return undefined
      case 'symlink':
        this.#clear(target)
        symlinkSync(header.linkName, target)
        return undefined
      case 'hardlink':
        return this.#hardlink(header, target)
      case 'file':
        return this.#file(header, target)
      case 'device':
      case 'fifo':
        throw this.#refuse(header, `refused: it is a ${header.kind === 'device' ? 'device node' : 'named pipe'}`)
      default:
        throw this.#refuse(header, 'refused: unknown entry type')
    }
  }

  /** The entry's host path, after checking that every folder above it is a real folder inside dest. */
  #place(header: TarHeader, rel: string): string {
    const parts = rel.split('/')
    let at = this.#dest
    for (const part of parts.slice(0, -1)) {
      at = path.join(at, part)
      const stat = lstatSync(at, { throwIfNoEntry: false })
      if (stat === undefined) {
        mkdirSync(at, { mode: 0o755 })
      } else if (stat.isSymbolicLink()) {
        throw this.#refuse(header, `unsafe path: it lies inside the symlink ${JSON.stringify(path.relative(this.#dest, at))}`)
      } else if (!stat.isDirectory()) {
        throw this.#refuse(header, `corrupt: it lies inside the file ${JSON.stringify(path.relative(this.#dest, at))}`)
      }
    }
    return path.join(at, parts[parts.length - 1]!)
  }

  #file(header: TarHeader, target: string): DataSink {
    this.#count(header, header.size)
    this.#clear(target)
    // Setuid/setgid bits dropped: nothing in a test sandbox needs them.
    const fd = openSync(target, 'wx', (header.mode & 0o1777) | 0o600)
    return {
      write: (chunk) => {
        writeSync(fd, chunk)
      },
      end: () => closeSync(fd),
    }
  }

  #hardlink(header: TarHeader, target: string): undefined {
    const normal = normalisePath(header.linkName)
    if ('problem' in normal || normal.path === '') {
      throw this.#refuse(header, `unsafe hard link: its target ${JSON.stringify(header.linkName)} leaves the image`)
    }
    const source = this.#place(header, normal.path)
    if (lstatSync(source, { throwIfNoEntry: false })?.isFile() !== true) {
      throw this.#refuse(header, `unsafe hard link: its target ${JSON.stringify(header.linkName)} is not a file extracted before it`)
    }
    this.#clear(target)
    linkSync(source, target)
    return undefined
  }

  #applyWhiteout(header: TarHeader, whiteout: Whiteout): void {
    if (whiteout.kind === 'file') {
      this.#clear(this.#place(header, whiteout.path))
      return
    }
    const folder = whiteout.folder === '' ? this.#dest : this.#place(header, `${whiteout.folder}/x`).slice(0, -2)
    if (lstatSync(folder, { throwIfNoEntry: false })?.isDirectory() !== true) {
      return
    }
    for (const name of readdirSync(folder)) {
      const rel = whiteout.folder === '' ? name : `${whiteout.folder}/${name}`
      if (!this.#thisLayer.has(rel)) {
        this.#clear(path.join(folder, name))
      }
    }
  }

  #clear(target: string): void {
    rmSync(target, { recursive: true, force: true })
  }

  #count(header: TarHeader, bytes: number): void {
    this.#bytes += bytes
    if (this.#bytes > IMAGE_UNPACKED_LIMIT_BYTES) {
      throw this.#refuse(header, `refused: the image unpacks to more than Lambda's ${IMAGE_UNPACKED_LIMIT_BYTES / 1024 ** 3} GB`)
    }
  }

  #refuse(header: TarHeader, why: string): HarnessError {
    return badTar(this.#source, `entry ${JSON.stringify(header.name)}: ${why}`)
  }
}
