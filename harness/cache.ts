// The user's private cache folders (the interpreter probe's answers, the CLI's compiled code) and
// how a file in one is replaced. Node's modules only: the CLI's loader imports this before the bundle.
import { lstatSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import path from 'node:path'

/** `~/.cache/lambda-harness/<name>` (XDG_CACHE_HOME honoured), private (0700, ours), or undefined when there is none to trust. */
export function privateCacheFolder(name: string): string | undefined {
  const base = process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache')
  // A folder of its own: lambda-harness/ is shared with the roots and images caches, made with the default umask.
  const folder = path.join(base, 'lambda-harness', name)
  try {
    mkdirSync(folder, { recursive: true, mode: 0o700 })
    const stat = lstatSync(folder)
    const uid = process.getuid?.()
    if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid) || (stat.mode & 0o077) !== 0) {
      return undefined
    }
    return folder
  } catch {
    return undefined
  }
}

/** Replaces `file` whole (a reader in another process never sees half of it); false when it cannot be written. */
export function writeCacheFile(file: string, data: string | NodeJS.ArrayBufferView): boolean {
  const temporary = `${file}.${process.pid}.tmp`
  try {
    writeFileSync(temporary, data, { mode: 0o600 })
    renameSync(temporary, file)
    return true
  } catch {
    // A full disk leaves part of a file: never one a reader could take for the cache.
    try {
      rmSync(temporary, { force: true })
    } catch {
      // Nothing more to do.
    }
    return false
  }
}
