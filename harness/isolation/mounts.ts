// The sandbox's file system as bwrap arguments (LAMBDA-SPEC §5, §2.5): the host's root read-only,
// the function at /var/task, our runtime client at /var/runtime, the layers merged at /opt, a
// private sized /tmp, and an /etc/hosts where `sandbox` and `sandbox.localdomain` are 127.0.0.1.
// Nothing is copied: every folder is a bind mount, merged trees are binds on a read-only tmpfs.
import { lstatSync, readdirSync, readlinkSync, realpathSync } from 'node:fs'
import path from 'node:path'
import type { LayerSpec } from '../config/options.js'
import { resolveInRoot } from './image-root.js'

/** Lambda's paths, as the processes inside see them. */
import { OPT, TASK_ROOT } from '../config/runtime-files.js'
export { OPT, TASK_ROOT }
export const RUNTIME_DIR = '/var/runtime'
export const EXTENSIONS_DIR = '/opt/extensions'

export interface SandboxLayout {
  readonly functionDir: string
  /** Our runtime client's folder (holds bootstrap.py). */
  readonly runtimeDir: string
  readonly layers: readonly LayerSpec[]
  readonly ephemeralStorageMB: number
  /**
   * Host folders the sandbox must still see at their own paths: the harness's own files (fixture
   * extensions resolve their helpers through them) when a checkout lives under /tmp, which the
   * sandbox replaces with its private tmpfs.
   */
  readonly hostPaths?: readonly string[]
  /** The sandbox's root file system (`--image`), a host folder; undefined: the host's own root. */
  readonly imageRoot?: string
  /** Keep the image's own /var/runtime (runtimeClient "image") instead of our client. */
  readonly imageRuntime?: boolean
  /** The host's private folders, each under a read-only tmpfs (see privateFolders()). */
  readonly hidden?: readonly string[]
  /** Host paths under a hidden folder that stay visible at their own paths, read-only. */
  readonly exposed?: readonly string[]
}

/** One step of building a merged tree; each maps to one bwrap option. */
export type MountOp =
  | { readonly op: 'bind'; readonly source: string; readonly dest: string }
  | { readonly op: 'symlink'; readonly target: string; readonly dest: string }
  | { readonly op: 'dir'; readonly dest: string }
  | { readonly op: 'tmpfs'; readonly dest: string }
  | { readonly op: 'remount-ro'; readonly dest: string }

/** A host folder whose content appears at `at` (path segments) under the merged root. */
export interface TreeSource {
  readonly host: string
  readonly at: readonly string[]
  /** Replaces whatever earlier sources put at `at` instead of merging with it. */
  readonly replace?: boolean
}

type Contribution =
  | { readonly kind: 'dir' | 'file' | 'symlink'; readonly host: string; readonly source: TreeSource }
  /** A folder that exists only because a source's root lies below it. */
  | { readonly kind: 'virtual'; readonly source: TreeSource }

/**
 * Lambda unpacks layers into /opt one after the other: a later layer's file replaces an earlier
 * one, folders merge. This returns the mounts that show the same tree at `root`: a folder that
 * only one source provides is bound whole; a folder several provide becomes a folder on a tmpfs
 * and its entries are merged one by one; symlinks stay symlinks (a layer's relative links resolve
 * inside /opt, and a link to a host path resolves on the read-only host root).
 */
export function mergeTree(root: string, sources: readonly TreeSource[], { merged = false } = {}): MountOp[] {
  const winners = winning(contributionsAt([], sources))
  const only = winners.length === 1 ? winners[0] : undefined
  if (only !== undefined && only.kind === 'dir' && !merged) {
    return [{ op: 'bind', source: only.host, dest: root }]
  }
  const ops: MountOp[] = [{ op: 'tmpfs', dest: root }]
  mergeChildren([], winners, root, ops)
  ops.push({ op: 'remount-ro', dest: root })
  return ops
}

function contributionsAt(rel: readonly string[], sources: readonly TreeSource[]): Contribution[] {
  const found: Contribution[] = []
  for (const source of sources) {
    if (source.replace === true && source.at.length === rel.length && source.at.every((segment, i) => rel[i] === segment)) {
      // This source's root replaces what came before it here.
      found.length = 0
    }
    if (source.at.length > rel.length) {
      if (rel.every((segment, i) => source.at[i] === segment)) {
        found.push({ kind: 'virtual', source })
      }
      continue
    }
    // A source with no host folder ('') only makes the folders above it (mount points).
    if (!source.at.every((segment, i) => rel[i] === segment) || source.host === '') {
      continue
    }
    const host = path.join(source.host, ...rel.slice(source.at.length))
    const stat = lstatSync(host, { throwIfNoEntry: false })
    if (stat === undefined) {
      continue
    }
    const kind = stat.isDirectory() ? 'dir' : stat.isSymbolicLink() ? 'symlink' : stat.isFile() ? 'file' : undefined
    if (kind !== undefined) {
      found.push({ kind, host, source })
    }
  }
  return found
}

/** The contributions that make up an entry: the last one, or the last run of folders (they merge). */
function winning(contributions: readonly Contribution[]): Contribution[] {
  const run: Contribution[] = []
  for (let i = contributions.length - 1; i >= 0; i--) {
    const entry = contributions[i]!
    const isFolder = entry.kind === 'dir' || entry.kind === 'virtual'
    if (run.length > 0 && !isFolder) {
      break
    }
    run.unshift(entry)
    if (!isFolder) {
      break
    }
  }
  return run
}

function mergeChildren(rel: readonly string[], folder: readonly Contribution[], dest: string, ops: MountOp[]): void {
  const sources = folder.map((entry) => entry.source)
  const names = new Set<string>()
  for (const entry of folder) {
    if (entry.kind === 'virtual') {
      names.add(entry.source.at[rel.length]!)
    } else if (entry.kind === 'dir') {
      for (const name of readdirSync(entry.host)) {
        names.add(name)
      }
    }
  }
  for (const name of [...names].sort()) {
    const childRel = [...rel, name]
    const childDest = path.posix.join(dest, name)
    const winners = winning(contributionsAt(childRel, sources))
    const last = winners[winners.length - 1]
    if (last === undefined) {
      continue
    }
    if (last.kind === 'file') {
      ops.push({ op: 'bind', source: last.host, dest: childDest })
    } else if (last.kind === 'symlink') {
      ops.push({ op: 'symlink', target: readlinkSync(last.host), dest: childDest })
    } else if (winners.length === 1 && last.kind === 'dir') {
      ops.push({ op: 'bind', source: last.host, dest: childDest })
    } else {
      ops.push({ op: 'dir', dest: childDest })
      mergeChildren(childRel, winners, childDest, ops)
    }
  }
}

/** The layers as /opt sources: a layer folder at the root, an `--extensions` folder at extensions/. */
export function optSources(layers: readonly LayerSpec[]): TreeSource[] {
  return layers.map((layer) => ({ host: real(layer.root), at: layer.extensionsDir === layer.root ? ['extensions'] : [] }))
}

/** /var: the root's, read-only, with the function at /var/task and our client at /var/runtime. */
export function varSources(layout: SandboxLayout): TreeSource[] {
  return [
    { host: layout.imageRoot === undefined ? real('/var') : imageVar(layout.imageRoot), at: [] },
    { host: real(layout.functionDir), at: ['task'], replace: true },
    ...(layout.imageRuntime === true ? [] : [{ host: real(layout.runtimeDir), at: ['runtime'], replace: true }]),
  ]
}

/** A source's own folder, with symlinks resolved (a folder given through a link is still a folder). */
function real(folder: string): string {
  try {
    return realpathSync(folder)
  } catch {
    return folder
  }
}

/** Lambda's names for the sandbox first, then the host's own lines (minus any that name them). */
export function hostsFile(hostHosts: string): string {
  const ours = '127.0.0.1\tsandbox.localdomain sandbox\n'
  const kept = hostHosts
    .split('\n')
    .filter((line) => !/(^|\s)(sandbox|sandbox\.localdomain)(\s|$)/.test(line.replace(/#.*/, '')))
    .join('\n')
  return `# lambda-harness sandbox\n${ours}${kept}${kept.endsWith('\n') ? '' : '\n'}`
}

export function toBwrapArgs(ops: readonly MountOp[]): string[] {
  return ops.flatMap((op): string[] => {
    switch (op.op) {
      case 'bind':
        return ['--ro-bind', op.source, op.dest]
      case 'symlink':
        return ['--symlink', op.target, op.dest]
      case 'dir':
        return ['--dir', op.dest]
      case 'tmpfs':
        return ['--tmpfs', op.dest]
      case 'remount-ro':
        return ['--remount-ro', op.dest]
    }
  })
}

/**
 * Every mount of the sandbox, in bwrap's order (later mounts cover earlier ones). `hostsFd` is
 * the fd bwrap reads /etc/hosts from.
 */
export function sandboxMountArgs(layout: SandboxLayout, hostsFd: number): string[] {
  return [
    ...rootMountArgs(layout),
    // A minimal /dev (null, zero, random, tty, …), read-only as Lambda's root: no /dev/shm to write.
    '--dev', '/dev',
    '--remount-ro', '/dev',
    // /proc of the sandbox's PID namespace: the processes see each other and nothing else.
    '--proc', '/proc',
    // Kernel-wide knobs stay the host's: read-only even for a uid that is root outside (EROFS).
    '--ro-bind', '/proc/sys', '/proc/sys',
    '--ro-bind-try', '/proc/sysrq-trigger', '/proc/sysrq-trigger',
    // Lambda's ephemeral storage: the one writable place, sized, private, gone with the sandbox.
    '--perms', '1777', '--size', String(layout.ephemeralStorageMB * 1024 * 1024), '--tmpfs', '/tmp',
    // Read-only windows back onto those host folders; everything else under /tmp stays private.
    // (One that does not exist, such as a sys.path entry, is skipped.)
    ...[...new Set(layout.hostPaths ?? [])].filter((p) => p.startsWith('/tmp/')).flatMap((p) => ['--ro-bind-try', p, p]),
    ...toBwrapArgs(mergeTree('/var', varSources(layout))),
    ...toBwrapArgs(mergeTree(OPT, optSources(layout.layers))),
    '--ro-bind-data', String(hostsFd), '/etc/hosts',
    ...rootMountEndArgs(layout),
  ]
}

// ---- The root: the host's, or an image's (`--image`) -------------------------------------------

/**
 * The root file system: the host's, read-only; or an image's, as a tmpfs holding its top-level
 * entries (so Lambda's mount points exist even where the image lacks them) and the harness's own
 * folders at their host paths (fixture extensions resolve their helpers through them).
 */
function rootMountArgs(layout: SandboxLayout): string[] {
  if (layout.imageRoot === undefined) {
    return ['--ro-bind', '/', '/', ...hiddenFolderArgs(layout.hidden ?? [], layout.exposed ?? [])]
  }
  const windows = (layout.hostPaths ?? []).filter((p) => !p.startsWith('/tmp/')).map((p) => ({ host: real(p), at: p.split('/').filter((part) => part !== '') }))
  // An image without /etc/hosts (debootstrap's bullseye) gets its /etc merged on the tmpfs, where
  // bwrap can make the file it writes /etc/hosts into: a source at etc/hosts that has no file ('').
  const hosts = resolveInRoot(layout.imageRoot, '/etc/hosts') === undefined ? [{ host: '', at: ['etc', 'hosts'] }] : []
  const ops = mergeTree('/', [{ host: layout.imageRoot, at: [] }, ...windows, ...hosts], { merged: true })
  // The root goes read-only last (rootMountEndArgs), once every other mount point is made in it.
  return toBwrapArgs(ops.filter((op) => !(op.op === 'remount-ro' && op.dest === '/')))
}

function rootMountEndArgs(layout: SandboxLayout): string[] {
  return layout.imageRoot === undefined ? [] : ['--remount-ro', '/']
}

/** The image's /var as a host folder (an image's /var may be a symlink inside it). */
function imageVar(root: string): string {
  return resolveInRoot(root, '/var') ?? path.join(root, 'var')
}

/**
 * The host's private folders: /root, /home and the harness's cache (when outside both), those of
 * them that exist. `home` is the harness's own home folder.
 */
export function privateFolders(home: string): string[] {
  const cache = path.join(home, '.cache', 'lambda-harness')
  const folders = ['/root', '/home']
  if (!folders.some((folder) => within(cache, folder))) {
    folders.push(cache)
  }
  return folders.filter((folder) => lstatSync(folder, { throwIfNoEntry: false })?.isDirectory() === true)
}

/**
 * A tmpfs over each hidden folder, the exposed paths under it bound back read-only (bwrap makes
 * their parent folders on the tmpfs; one that does not exist, such as a sys.path entry, is skipped),
 * then the tmpfs made read-only like the rest of the root.
 */
export function hiddenFolderArgs(hidden: readonly string[], exposed: readonly string[]): string[] {
  return hidden.flatMap((folder) => [
    '--tmpfs', folder,
    ...[...new Set(exposed)]
      .filter((target) => within(target, folder) && target !== folder)
      .sort()
      .flatMap((target) => ['--ro-bind-try', target, target]),
    '--remount-ro', folder,
  ])
}

/** Whether `target` is `folder` or lies below it. */
export function within(target: string, folder: string): boolean {
  return target === folder || target.startsWith(`${folder}/`)
}
