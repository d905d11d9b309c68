// Unpacks image tars safely (tar.ts reads them), with the same refusals as layer zips: names that
// leave the folder, writes through a symlink, hard links to anything but a file already extracted,
// devices, and more than Lambda's 10 GB image limit. Symlinks are kept as they are: absolute
// targets are normal in a root file system and resolve inside the sandbox, never on the host
// (nothing here follows one).
import { closeSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, rmSync, symlinkSync, writeSync } from 'node:fs'
import path from 'node:path'
import type { HarnessError } from '../errors.js'
import { badTar, type DataSink, type TarHeader } from './tar.js'
import { normalisePath } from './zip-paths.js'

/** Lambda's limit for a container image, uncompressed (Lambda quotas: "Container image code package size"). */
const IMAGE_UNPACKED_LIMIT_BYTES = 10 * 1024 ** 3

/** An OCI/Docker whiteout: `.wh.<name>` deletes <name> of lower layers; `.wh..wh..opq` empties its folder. */
type Whiteout = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'opaque'; readonly folder: string }

function whiteoutOf(relPath: string): Whiteout | undefined {
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
