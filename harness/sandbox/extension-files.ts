// The extension files a sandbox starts: what Lambda finds in /opt/extensions.
import { readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import type { ParsedOptions } from '../config/options.js'
import type { ExtensionFile } from './generation.js'

/** The regular files of every layer's extensions/ folder; a later layer's file wins, as in /opt. */
export function listExtensions(options: ParsedOptions, skipFolder: (folder: string) => void): ExtensionFile[] {
  const byName = new Map<string, string>()
  for (const layer of options.layers) {
    let entries: string[]
    try {
      entries = readdirSync(layer.extensionsDir)
    } catch {
      continue
    }
    for (const name of entries) {
      const file = path.join(layer.extensionsDir, name)
      // Folders are skipped, as RAPID keeps only non-directory entries; a link to nothing is kept
      // (its launch fails: Extension.LaunchError), not silently left out.
      if (statSync(file, { throwIfNoEntry: false })?.isDirectory() !== true) {
        byName.set(name, file)
      } else {
        skipFolder(file)
      }
    }
  }
  // Go's os.ReadDir order: byte-wise by name.
  return [...byName.entries()]
    .sort(([a], [b]) => (Buffer.compare(Buffer.from(a), Buffer.from(b))))
    .map(([name, file]) => ({ name, path: file }))
}

export function folderWarning(folder: string): string {
  return `extension ${folder} is a folder: skipped, as Lambda starts only the files in extensions/`
}
