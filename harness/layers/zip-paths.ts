// The path rules of a layer zip, pure: which names are safe, which trees are consistent, and
// which symlink targets stay inside the layer. zip-entries.ts turns a problem into a refusal.

export type EntryKind = 'file' | 'directory' | 'symlink'

export interface PathEntry {
  /** The name as stored, for messages. */
  readonly name: string
  /** Normalised relative path without a trailing slash. */
  readonly path: string
  readonly kind: EntryKind
}

/** The name as a path relative to the layer, or why it could leave the layer. */
export function normalisePath(name: string): { path: string } | { problem: string } {
  if (name.includes('\0')) {
    return { problem: 'unsafe path: it contains a NUL byte' }
  }
  if (name.includes('\\')) {
    // Windows separators: `..\x` is a plain name here but escapes with the tools that convert them.
    return { problem: 'unsafe path: it contains a backslash' }
  }
  if (name.startsWith('/')) {
    return { problem: 'unsafe path: it is absolute' }
  }
  if (/^[A-Za-z]:/.test(name)) {
    return { problem: 'unsafe path: it starts with a drive letter' }
  }
  const parts: string[] = []
  for (const part of name.split('/')) {
    if (part === '..') {
      return { problem: 'unsafe path: it has a ".." component' }
    }
    if (part !== '' && part !== '.') {
      parts.push(part)
    }
  }
  return { path: parts.join('/') }
}

/**
 * The first entry that repeats a path or lies inside a file or a symlink (writing through a link
 * could leave the layer), with why; undefined if the tree is consistent.
 */
export function treeProblem(entries: readonly PathEntry[]): { entry: PathEntry; problem: string } | undefined {
  const kinds = new Map<string, EntryKind>()
  for (const entry of entries) {
    const seen = kinds.get(entry.path)
    if (seen !== undefined && !(seen === 'directory' && entry.kind === 'directory')) {
      return { entry, problem: 'refused: the archive holds this path twice' }
    }
    kinds.set(entry.path, entry.kind)
  }
  for (const entry of entries) {
    const parts = entry.path.split('/')
    for (let i = 1; i < parts.length; i++) {
      const ancestor = parts.slice(0, i).join('/')
      const kind = kinds.get(ancestor)
      if (kind === 'symlink') {
        return { entry, problem: `unsafe path: it lies inside the symlink ${JSON.stringify(ancestor)}` }
      }
      if (kind === 'file') {
        return { entry, problem: `corrupt: it lies inside the file ${JSON.stringify(ancestor)}` }
      }
    }
  }
  return undefined
}

/**
 * Why a link at `linkPath` pointing to `target` would leave the layer, or undefined if it stays in.
 * Resolved lexically, which equals the real resolution because nothing in the layer lies inside a
 * symlink (checkTree) and we refuse targets that walk through another of the archive's symlinks.
 */
export function linkLeavesLayer(linkPath: string, target: string, kinds: ReadonlyMap<string, EntryKind>): string | undefined {
  if (target.includes('\0')) {
    return 'contains a NUL byte'
  }
  if (target.startsWith('/')) {
    return 'is absolute'
  }
  const stack = linkPath.split('/').slice(0, -1)
  const parts = target.split('/').filter((part) => part !== '' && part !== '.')
  for (const [index, part] of parts.entries()) {
    if (part === '..') {
      if (stack.length === 0) {
        return 'points outside the layer'
      }
      stack.pop()
      continue
    }
    stack.push(part)
    if (index < parts.length - 1 && kinds.get(stack.join('/')) === 'symlink') {
      return 'passes through another symlink'
    }
  }
  return undefined
}
