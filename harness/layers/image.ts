// An `--image` as a folder the sandbox can use as its root: a folder as it is, or a tar unpacked
// once into a private cache folder keyed by the tar's digest. Three tar layouts:
//   a flat file system (`docker export`, `crane export`),
//   `docker save` (manifest.json names the layer tars, applied in order),
//   an OCI image layout (`skopeo copy … oci-archive:`: index.json → manifest → layer blobs).
// A tar is unpacked into a temporary folder beside the cache entry and renamed at the end, so a
// half-unpacked image is never taken for a finished one, and a refused one leaves nothing.
import { createHash } from 'node:crypto'
import { createReadStream, lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs'
import { homedir } from 'node:os'
import path from 'node:path'
import { HarnessError } from '../errors.js'
import { badTar, readTar, type TarHeader } from './tar.js'
import { SafeExtractor } from './tar-extract.js'

/** JSON files of an image tar are small; anything larger is a layer or a file system entry. */
const METADATA_MAX_BYTES = 4 * 1024 * 1024

export interface PreparedImage {
  /** The root folder (the user's folder, or the cache entry). */
  readonly root: string
  /** How it got there, for the timeline. */
  readonly source: 'folder' | 'flat tar' | 'docker save tar' | 'OCI layout tar' | 'tar unpacked before'
}

/** The cache of unpacked images: ${XDG_CACHE_HOME:-~/.cache}/lambda-harness/images/<sha256>. */
export function imageCacheDir(): string {
  return path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'lambda-harness', 'images')
}

export async function prepareImage(image: string): Promise<PreparedImage> {
  const stat = statSync(image)
  if (stat.isDirectory()) {
    return { root: image, source: 'folder' }
  }
  const digest = await sha256(image)
  const cache = imageCacheDir()
  const root = path.join(cache, digest)
  if (lstatSync(root, { throwIfNoEntry: false })?.isDirectory() === true) {
    return { root, source: 'tar unpacked before' }
  }
  mkdirSync(cache, { recursive: true, mode: 0o700 })
  const temporary = mkdtempSync(path.join(cache, `.${digest}.`))
  try {
    const source = await unpackImage(image, temporary)
    try {
      renameSync(temporary, root)
    } catch (error) {
      // Another harness unpacked the same tar meanwhile: its copy is as good as ours.
      if (lstatSync(root, { throwIfNoEntry: false })?.isDirectory() !== true) {
        throw error
      }
      rmSync(temporary, { recursive: true, force: true })
    }
    return { root, source }
  } catch (error) {
    rmSync(temporary, { recursive: true, force: true })
    throw error
  }
}

/** Removes a cached image folder (a root the checks refused must not stay in the cache). */
export function forgetImage(prepared: PreparedImage): void {
  if (prepared.source !== 'folder') {
    rmSync(prepared.root, { recursive: true, force: true })
  }
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer)
  }
  return hash.digest('hex')
}

interface Indexed {
  readonly entries: Map<string, TarHeader>
  readonly json: Map<string, string>
}

/** Unpacks the tar at `image` into the empty folder `dest`; returns its layout. */
async function unpackImage(image: string, dest: string): Promise<PreparedImage['source']> {
  const index = await indexTar(image)
  const extractor = new SafeExtractor(dest, image)
  const layers = dockerSaveLayers(image, index) ?? ociLayers(image, index)
  if (layers === undefined) {
    await readTar(image, extractor.visitor(false))
    return 'flat tar'
  }
  for (const layer of layers.paths) {
    const entry = index.entries.get(layer)
    if (entry === undefined || entry.kind !== 'file') {
      throw badTar(image, `the layer ${JSON.stringify(layer)} its manifest names is not in the archive`)
    }
    extractor.startLayer()
    await readTar(image, extractor.visitor(true), { start: entry.dataOffset, end: entry.dataOffset + entry.size - 1 })
  }
  return layers.format
}

/** Every entry of the outer tar by normalised name, and the text of its small JSON files. */
async function indexTar(image: string): Promise<Indexed> {
  const entries = new Map<string, TarHeader>()
  const json = new Map<string, string>()
  await readTar(image, (header) => {
    const name = header.name.replace(/^(\.\/)+/, '')
    entries.set(name, header)
    const wanted = name === 'manifest.json' || name === 'index.json' || name === 'oci-layout' || name.startsWith('blobs/')
    if (header.kind !== 'file' || !wanted || header.size > METADATA_MAX_BYTES) {
      return undefined
    }
    const chunks: Buffer[] = []
    return { write: (chunk) => chunks.push(chunk), end: () => json.set(name, Buffer.concat(chunks).toString('utf8')) }
  })
  return { entries, json }
}

function parseJson(image: string, name: string, text: string | undefined): unknown {
  try {
    return text === undefined ? undefined : JSON.parse(text)
  } catch (error) {
    throw badTar(image, `${name} is not JSON (${(error as Error).message})`, error)
  }
}

/** `docker save`: manifest.json is [{ Config, RepoTags, Layers: ["<id>/layer.tar" | "blobs/sha256/<hex>"] }]. */
function dockerSaveLayers(image: string, index: Indexed): { paths: string[]; format: PreparedImage['source'] } | undefined {
  const manifest = parseJson(image, 'manifest.json', index.json.get('manifest.json')) as { Layers?: unknown }[] | undefined
  if (manifest === undefined) {
    return undefined
  }
  const layers = Array.isArray(manifest) ? manifest[0]?.Layers : undefined
  if (!Array.isArray(layers) || !layers.every((layer) => typeof layer === 'string')) {
    throw badTar(image, 'manifest.json names no layers (expected docker save\'s [{"Layers": [...]}])')
  }
  if (manifest.length > 1) {
    throw badTar(image, `manifest.json holds ${manifest.length} images; save one image per tar`)
  }
  return { paths: layers as string[], format: 'docker save tar' }
}

interface OciDescriptor {
  readonly mediaType?: string
  readonly digest?: string
  readonly platform?: { readonly architecture?: string; readonly os?: string }
}

/** OCI layout: index.json → (an index per platform →) a manifest whose layers are blobs/<alg>/<hex>. */
function ociLayers(image: string, index: Indexed): { paths: string[]; format: PreparedImage['source'] } | undefined {
  if (!index.entries.has('oci-layout') || !index.json.has('index.json')) {
    return undefined
  }
  let document = parseJson(image, 'index.json', index.json.get('index.json')) as { manifests?: OciDescriptor[]; layers?: OciDescriptor[] }
  for (let depth = 0; document.layers === undefined; depth++) {
    const manifests = document.manifests ?? []
    const arch = process.arch === 'arm64' ? 'arm64' : 'amd64'
    const chosen = manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === arch) ?? manifests[0]
    if (chosen?.digest === undefined || depth > 4) {
      throw badTar(image, 'index.json leads to no image manifest')
    }
    const blob = blobPath(chosen.digest)
    document = parseJson(image, blob, index.json.get(blob)) ?? {}
    if (index.json.get(blob) === undefined) {
      throw badTar(image, `the manifest ${chosen.digest} is not in the archive`)
    }
  }
  const paths = document.layers.map((layer) => {
    if (layer.digest === undefined || /zstd/.test(layer.mediaType ?? '')) {
      throw badTar(image, `layer ${layer.digest ?? '?'} is ${layer.mediaType ?? 'of no media type'}; only tar and tar+gzip layers are supported`)
    }
    return blobPath(layer.digest)
  })
  return { paths, format: 'OCI layout tar' }
}

function blobPath(digest: string): string {
  const [algorithm, hex] = digest.split(':')
  if (algorithm === undefined || hex === undefined || !/^[a-z0-9]+$/.test(algorithm) || !/^[a-f0-9]+$/.test(hex)) {
    throw new HarnessError('ERR_BAD_INPUT', `image: bad digest ${JSON.stringify(digest)}`)
  }
  return `blobs/${algorithm}/${hex}`
}
