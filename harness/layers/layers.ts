// Layers as Lambda's /opt: each input is a folder (used as is) or a .zip, unpacked with the safe
// extractor into a private 0700 folder under os.tmpdir() that cleanup() removes. Merging (later
// layers win) stays with the caller, which sees only folders.
//
//   const prepared = await prepareLayers(['layer-a', 'layer-b.zip'])
//   try { … prepared.layers … } finally { await prepared.cleanup() }
//
// If the harness's own process dies first, an exit hook removes the folders synchronously.
import { rmSync } from 'node:fs'
import { chmod, mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { onExit } from 'signal-exit'
import { invalid, type LayerSpec } from '../config/options.js'
import { HarnessError } from '../errors.js'
import { copyFollowingLinks } from './follow-links.js'
import { LAMBDA_UNZIPPED_LIMIT_BYTES } from './quota.js'
import type { ZipLimits } from './zip.js'
import { ownerTag, sweepOrphanedTempDirs } from './temp-owner.js'

/** Every unpacked layer's folder is `os.tmpdir()/lambda-harness-layer-<pid>-<start>-XXXXXX` (temp-owner.ts). */
export const LAYER_TEMP_PREFIX = 'lambda-harness-layer-'

interface PrepareLayersOptions {
  /** Names the inputs in messages: `option layers[1]: …`. Default 'layers'. */
  readonly option?: string
  /** Limits for the zips; `maxTotalBytes` is shared by all of them, as Lambda's quota is. */
  readonly limits?: ZipLimits
  /** Where the private folders go. Default os.tmpdir(). */
  readonly tmpDir?: string
}

export interface PreparedLayers extends AsyncDisposable {
  /** One per input, in input order. */
  readonly layers: readonly LayerSpec[]
  /** Removes the unpacked folders. Idempotent; folder inputs are never touched. */
  cleanup(): Promise<void>
}

/** Checks every input exists before unpacking any; on a failure removes what it unpacked. */
export async function prepareLayers(inputs: readonly string[], options: PrepareLayersOptions = {}): Promise<PreparedLayers> {
  const option = options.option ?? 'layers'
  if (!Array.isArray(inputs)) {
    throw invalid(option, 'a list of folders or .zip files', inputs)
  }
  const kinds: ('folder' | 'zip')[] = []
  for (const [index, input] of inputs.entries()) {
    kinds.push(await kindOf(`${option}[${index}]`, input))
  }
  const created: string[] = []
  const cleanup = once(async () => {
    let first: unknown
    for (const dir of created) {
      try {
        await removeOwnTempDir(dir)
      } catch (error) {
        first ??= error
      }
    }
    if (first !== undefined) {
      throw new HarnessError('ERR_INTERNAL', `cannot remove an unpacked layer (${(first as NodeJS.ErrnoException).code ?? 'error'})`, { cause: first })
    }
  })
  const layers: LayerSpec[] = []
  let budgetBytes = options.limits?.maxTotalBytes
  try {
    for (const [index, input] of inputs.entries()) {
      let root = path.resolve(input)
      if (kinds[index] === 'zip') {
        root = await ownTempDir(options.tmpDir ?? tmpdir())
        created.push(root)
        // The zip code loads only for a zip: a run with folder layers (or none) never needs it.
        const zip = await import('./zip.js')
        budgetBytes ??= LAMBDA_UNZIPPED_LIMIT_BYTES
        const extracted = await zip.extractLayerZip(input, root, { ...options.limits, maxTotalBytes: budgetBytes })
        budgetBytes -= extracted.bytes
      }
      layers.push({ root, extensionsDir: path.join(root, 'extensions') })
    }
  } catch (error) {
    // A failed start cleans up before rethrowing the original error.
    await cleanup().catch(() => undefined)
    throw error
  }
  return { layers, cleanup, [Symbol.asyncDispose]: cleanup }
}

/**
 * `folder` copied with its links followed, as a deploy zips it (follow-links.ts), into a private
 * temp folder like an unpacked zip's; `remove` deletes it, as the exit hook does if the harness dies.
 */
export async function followedCopy(folder: string): Promise<{ readonly root: string; remove(): Promise<void> }> {
  const root = await ownTempDir(tmpdir())
  const remove = once(() => removeOwnTempDir(root))
  try {
    copyFollowingLinks(folder, root)
  } catch (error) {
    await remove()
    throw error
  }
  return { root, remove }
}

/** A private folder of this harness's in `parent`, which the exit hook removes if the harness dies first. */
async function ownTempDir(parent: string): Promise<string> {
  sweepOnce(parent)
  // mkdtemp makes the folder 0700: other users cannot read or swap the layer's files.
  const root = await mkdtemp(path.join(parent, `${LAYER_TEMP_PREFIX}${ownerTag()}`))
  trackTempDir(root)
  return root
}

/** Removes an ownTempDir folder; the exit hook forgets it whatever happens. */
async function removeOwnTempDir(dir: string): Promise<void> {
  try {
    await removeTree(dir)
  } finally {
    untrackTempDir(dir)
  }
}

async function kindOf(option: string, input: unknown): Promise<'folder' | 'zip'> {
  if (typeof input !== 'string' || input === '') {
    throw invalid(option, 'a folder or .zip file path', input)
  }
  const stats = await stat(input).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') {
      return undefined
    }
    const message = `option ${option}: cannot read layer ${JSON.stringify(input)} (${error.code ?? 'error'})`
    throw new HarnessError('ERR_FILE_NOT_FOUND', message, { cause: error })
  })
  if (stats === undefined) {
    throw new HarnessError('ERR_FILE_NOT_FOUND', `option ${option}: layer ${JSON.stringify(input)} does not exist`)
  }
  if (stats.isDirectory()) {
    return 'folder'
  }
  if (stats.isFile() && input.toLowerCase().endsWith('.zip')) {
    return 'zip'
  }
  throw invalid(option, 'a folder or a .zip file', `${input} (${stats.isFile() ? 'not a .zip' : 'not a file or folder'})`)
}

/** rm -r that also copes with folders a sandbox process made read-only. */
async function removeTree(dir: string): Promise<void> {
  try {
    await rm(dir, { recursive: true, force: true })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EACCES' && (error as NodeJS.ErrnoException).code !== 'EPERM') {
      throw error
    }
    await makeWritable(dir)
    await rm(dir, { recursive: true, force: true })
  }
}

async function makeWritable(dir: string): Promise<void> {
  await chmod(dir, 0o700).catch(() => undefined)
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (entry.isDirectory()) {
      await makeWritable(path.join(dir, entry.name))
    }
  }
}

const swept = new Set<string>()

/** The folders of harnesses that died without their exit hook (SIGKILL), once per temp folder per process. */
function sweepOnce(parent: string): void {
  if (!swept.has(parent)) {
    swept.add(parent)
    sweepOrphanedTempDirs(parent, LAYER_TEMP_PREFIX)
  }
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let promise: Promise<void> | undefined
  return () => (promise ??= fn())
}

// ---- Exit hook: unpacked layers do not outlive a crashed harness ---------------------------

const liveTempDirs = new Set<string>()
let removeHook: (() => void) | undefined

function trackTempDir(dir: string): void {
  liveTempDirs.add(dir)
  removeHook ??= onExit(() => {
    for (const live of liveTempDirs) {
      try {
        rmSync(live, { recursive: true, force: true })
      } catch {
        // Exiting anyway: nothing better to do than leave it.
      }
    }
    liveTempDirs.clear()
  })
}

function untrackTempDir(dir: string): void {
  liveTempDirs.delete(dir)
  // Remove our listeners once nothing is left, so an idle harness holds no signal handlers.
  if (liveTempDirs.size === 0 && removeHook !== undefined) {
    removeHook()
    removeHook = undefined
  }
}
