// What `check` was pointed at, made into a layer: a layer folder as it is (the sandbox binds a copy
// with its links followed when it cannot follow one, isolation.ts), a layer .zip unpacked by the
// layers module, or a single extension file put in a temporary layer's extensions/ (as a symlink,
// so an extension that finds its siblings through its real path still does; its folder, or the
// file alone, is exposed to the sandbox, which otherwise hides /tmp, /root and /home).
import { closeSync, mkdtempSync, openSync, readdirSync, readSync, realpathSync, rmSync, statSync, symlinkSync, mkdirSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import path from 'node:path'
import { HarnessError } from '../errors.js'
import { privateFolders } from '../isolation/mounts.js'
import { prepareLayers } from '../layers/layers.js'

export interface CheckTarget {
  /** What the user named. */
  readonly input: string
  readonly kind: 'extension file' | 'layer folder' | 'layer zip'
  /** The layer folder the sandboxes get (Lambda's /opt). */
  readonly layerRoot: string
  /** The external extensions in it, by file name, in Lambda's start order. */
  readonly extensions: readonly string[]
  /** Host paths the sandboxes must see for the layer to work (BootOptions.expose): a single file's real folder. */
  readonly expose: readonly string[]
  /** Whether any file of the layer mentions DATABASE_URL (so a PostgreSQL probe is worth starting). */
  readonly mentionsDatabaseUrl: boolean
  /** Removes what was unpacked or created. Idempotent. */
  cleanup(): Promise<void>
}

export async function resolveTarget(input: string): Promise<CheckTarget> {
  const resolved = path.resolve(input)
  const stats = statSync(resolved, { throwIfNoEntry: false })
  if (stats === undefined) {
    throw new HarnessError('ERR_FILE_NOT_FOUND', `check: ${JSON.stringify(input)} does not exist (expected an extension file, a layer folder or a layer .zip)`)
  }
  if (stats.isDirectory()) {
    if (!statSync(path.join(resolved, 'extensions'), { throwIfNoEntry: false })?.isDirectory()) {
      throw new HarnessError(
        'ERR_BAD_INPUT',
        `check: ${JSON.stringify(input)} is a folder without an extensions/ folder (a layer ships its extensions as extensions/<name>; to check one file, name the file)`,
      )
    }
    return layer(input, 'layer folder', resolved, [], async () => undefined)
  }
  if (stats.isFile() && resolved.toLowerCase().endsWith('.zip')) {
    const prepared = await prepareLayers([resolved], { option: 'check <layer zip>' })
    const root = prepared.layers[0]!.root
    try {
      return layer(input, 'layer zip', root, [], () => prepared.cleanup())
    } catch (error) {
      await prepared.cleanup()
      throw error
    }
  }
  if (!stats.isFile()) {
    throw new HarnessError('ERR_BAD_INPUT', `check: ${JSON.stringify(input)} is neither a file nor a folder`)
  }
  const root = mkdtempSync(path.join(tmpdir(), 'lambda-harness-check-'))
  mkdirSync(path.join(root, 'extensions'))
  // To the real file (a link the user named may sit in a folder the sandbox hides), under the name they named it by.
  const real = realpathSync(resolved)
  symlinkSync(real, path.join(root, 'extensions', path.basename(resolved)))
  return layer(input, 'extension file', root, [exposedFor(real)], async () => rmSync(root, { recursive: true, force: true }))
}

/**
 * What the sandbox must see for a single file to run: its folder, so helpers it finds beside its
 * real path load; the file alone where the folder is one the sandbox hides whole (its private
 * folders, /tmp, which must stay private), a home folder with the user's credentials, or the root.
 */
function exposedFor(real: string): string {
  const folder = path.dirname(real)
  const home = homedir()
  const whole = ['/', '/tmp', home, ...privateFolders(home)].includes(folder) || /^\/home\/[^/]+$/.test(folder)
  return whole ? real : folder
}

function layer(input: string, kind: CheckTarget['kind'], root: string, expose: string[], remove: () => Promise<void>): CheckTarget {
  const extensionsDir = path.join(root, 'extensions')
  const extensions = readdirSync(extensionsDir)
    // As the sandbox lists them (extension-files.ts): all but folders, a link it cannot follow here (to /opt/…) kept.
    .filter((name) => statSync(path.join(extensionsDir, name), { throwIfNoEntry: false })?.isDirectory() !== true)
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
  if (extensions.length === 0) {
    throw new HarnessError('ERR_BAD_INPUT', `check: ${JSON.stringify(input)} has no files in extensions/: there is no external extension to check`)
  }
  let done: Promise<void> | undefined
  return {
    input,
    kind,
    layerRoot: root,
    extensions,
    expose,
    mentionsDatabaseUrl: mentions(root, Buffer.from('DATABASE_URL')),
    cleanup: () => (done ??= remove()),
  }
}

/** Files read at most for the DATABASE_URL scan, and bytes per file. */
const SCAN_FILES = 2000
const SCAN_BYTES_PER_FILE = 64 * 1024 * 1024

/** Whether any regular file under `root` (symlinks followed, to a bounded depth and size) contains `needle`. */
function mentions(root: string, needle: Buffer): boolean {
  const queue: { dir: string; depth: number }[] = [{ dir: root, depth: 0 }]
  let files = 0
  while (queue.length > 0 && files < SCAN_FILES) {
    const { dir, depth } = queue.shift()!
    let entries: string[]
    try {
      entries = readdirSync(dir)
    } catch {
      continue
    }
    for (const name of entries) {
      const file = path.join(dir, name)
      const stats = statSync(file, { throwIfNoEntry: false })
      if (stats?.isDirectory() === true && depth < 8) {
        queue.push({ dir: file, depth: depth + 1 })
      } else if (stats?.isFile() === true && files++ < SCAN_FILES && fileContains(file, needle, Math.min(stats.size, SCAN_BYTES_PER_FILE))) {
        return true
      }
    }
  }
  return false
}

function fileContains(file: string, needle: Buffer, size: number): boolean {
  let fd: number
  try {
    fd = openSync(file, 'r')
  } catch {
    return false
  }
  try {
    const chunk = Buffer.alloc(1024 * 1024 + needle.length)
    let offset = 0
    let carry = 0
    while (offset < size) {
      const read = readSync(fd, chunk, carry, chunk.length - carry, offset)
      if (read <= 0) {
        break
      }
      if (chunk.subarray(0, carry + read).includes(needle)) {
        return true
      }
      offset += read
      // Keep the tail, so a match across two reads is still found.
      const end = carry + read
      carry = Math.min(needle.length - 1, end)
      chunk.copy(chunk, 0, end - carry, end)
    }
    return false
  } finally {
    closeSync(fd)
  }
}
