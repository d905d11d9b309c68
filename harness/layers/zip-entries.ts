// Reading a layer zip's entries and checking every one before anything is written: the central
// directory (zip-central.ts), local headers that agree with it, no overlapping data, and symlink
// targets that stay inside the layer.
import type { FileHandle } from 'node:fs/promises'
import zlib from 'node:zlib'
import { readCentralDirectory } from './zip-central.js'
import { crc32Of, errnoOf, FLAG_ENCRYPTED, LOCAL_SIZE, MAX_LINK_BYTES, METHOD_DEFLATED, readAt, refuse, SIG_LOCAL, type Entry, type ZipLimits } from './zip-format.js'
import { linkLeavesLayer, treeProblem } from './zip-paths.js'

/** Every entry of the archive, checked, with its data offset and (for symlinks) its target. */
export async function readEntries(zip: FileHandle, zipPath: string, limits: Required<ZipLimits>): Promise<Entry[]> {
  const size = (await zip.stat()).size
  const { entries, centralOffset } = await readCentralDirectory(zip, zipPath, size, limits)
  await checkLocalHeaders(zip, zipPath, entries, centralOffset)
  const problem = treeProblem(entries)
  if (problem !== undefined) {
    throw refuse(zipPath, problem.entry.name, problem.problem)
  }
  await readLinkTargets(zip, zipPath, entries)
  return entries
}

/** Local headers must agree with the central directory, and no two entries may share bytes. */
async function checkLocalHeaders(zip: FileHandle, zipPath: string, entries: Entry[], centralOffset: number): Promise<void> {
  for (const entry of entries) {
    // The header and, if it agrees, the name in one read.
    const header = await readAt(zip, entry.localHeaderOffset, LOCAL_SIZE + entry.rawName.length)
    if (header.length < LOCAL_SIZE || header.readUInt32LE(0) !== SIG_LOCAL) {
      throw refuse(zipPath, entry.name, 'corrupt: no local header where the central directory points')
    }
    const flags = header.readUInt16LE(6)
    const method = header.readUInt16LE(8)
    const nameLength = header.readUInt16LE(26)
    const extraLength = header.readUInt16LE(28)
    const localName = header.subarray(LOCAL_SIZE, LOCAL_SIZE + nameLength)
    if ((flags & FLAG_ENCRYPTED) !== 0) {
      throw refuse(zipPath, entry.name, 'encrypted entries are not supported')
    }
    if (method !== entry.method || !localName.equals(entry.rawName)) {
      throw refuse(zipPath, entry.name, 'corrupt: the local header disagrees with the central directory (name or method)')
    }
    entry.dataOffset = entry.localHeaderOffset + LOCAL_SIZE + nameLength + extraLength
    if (entry.dataOffset + entry.compressedSize > centralOffset) {
      throw refuse(zipPath, entry.name, `corrupt: its ${entry.compressedSize} compressed bytes run past the entries (sizes lie)`)
    }
  }
  const byOffset = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset)
  let previousEnd = 0
  let previous: Entry | undefined
  for (const entry of byOffset) {
    if (previous !== undefined && entry.localHeaderOffset < previousEnd) {
      throw refuse(zipPath, entry.name, `refused as a zip bomb: its data overlaps entry ${JSON.stringify(previous.name)}`)
    }
    previousEnd = entry.dataOffset + entry.compressedSize
    previous = entry
  }
}

/** Reads every symlink's target and refuses the ones that point outside the layer. */
async function readLinkTargets(zip: FileHandle, zipPath: string, entries: readonly Entry[]): Promise<void> {
  const kinds = new Map(entries.map((entry) => [entry.path, entry.kind]))
  for (const entry of entries) {
    if (entry.kind !== 'symlink') {
      continue
    }
    const stored = await readAt(zip, entry.dataOffset, entry.compressedSize)
    let data: Buffer
    try {
      data = entry.method === METHOD_DEFLATED ? zlib.inflateRawSync(stored, { maxOutputLength: MAX_LINK_BYTES }) : stored
    } catch (error) {
      throw refuse(zipPath, entry.name, `corrupt data (${errnoOf(error)})`, error)
    }
    if (data.length !== entry.uncompressedSize || crc32Of(data, 0) !== entry.crc32) {
      throw refuse(zipPath, entry.name, 'corrupt: the symlink target does not match its declared size and CRC')
    }
    const target = data.toString('utf8')
    const outside = linkLeavesLayer(entry.path, target, kinds)
    if (outside !== undefined) {
      throw refuse(zipPath, entry.name, `unsafe symlink: its target ${JSON.stringify(target)} ${outside}`)
    }
    entry.linkTarget = target
  }
}
