// A function or layer folder as `sam deploy` and `zip -r` ship it: with its links followed
// (samcli's make_zip walks with followlinks=True and zips what each link points to). Bound as
// /var/task or /opt, a folder keeps its links, and one that leaves it (an absolute host path, or
// ../ out of it) may point at nothing the sandbox has. `leavingLinks` finds those;
// `copyFollowingLinks` makes the copy Lambda would get. A link into /opt, /var/task or the kernel's
// /proc, /dev and /sys means the sandbox's: it stays a link, and nothing of the host's /proc (the
// harness's own environment) is copied in. A link into /tmp is followed where the host has its
// target (a build in `mktemp -d`), as a deploy would.
import { copyFileSync, lstatSync, mkdirSync, readdirSync, readlinkSync, realpathSync, statSync, symlinkSync, type Stats } from 'node:fs'
import path from 'node:path'
import { HarnessError } from '../errors.js'
import { LAMBDA_UNZIPPED_LIMIT_BYTES } from './quota.js'

/** Entries looked at, at most, in a layer folder (and copied). */
const MAX_ENTRIES = 100_000

/** Folders whose content is the sandbox's own, never the host's to ship. */
const SANDBOX_OWN = ['/opt', '/var/task', '/var/runtime', '/proc', '/dev', '/sys']

/** A link's target as the sandbox names it: a path in one of its own folders, left to the sandbox. */
function sandboxPath(target: string): boolean {
  return SANDBOX_OWN.some((root) => target === root || target.startsWith(`${root}/`))
}

function realOrUndefined(file: string): string | undefined {
  try {
    return realpathSync(file)
  } catch {
    return undefined
  }
}

function inside(root: string, file: string): boolean {
  const relative = path.relative(root, file)
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative))
}

/** The links in `root` (not followed) that lead out of it, as paths relative to it, sorted; at most `limit`. */
export function leavingLinks(root: string, limit = 20): string[] {
  const found: string[] = []
  let seen = 0
  const walk = (dir: string): void => {
    // Dirents carry the type, so a link costs a readlink and the rest nothing more than the read of
    // their folder: 2–3 µs per entry here (bench/findings.md, session 11).
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (found.length >= limit || ++seen > MAX_ENTRIES) {
        return
      }
      const file = path.join(dir, entry.name)
      if (entry.isSymbolicLink()) {
        const target = readlinkSync(file)
        if (path.isAbsolute(target) ? !sandboxPath(target) : !inside(root, path.resolve(dir, target))) {
          found.push(path.relative(root, file))
        }
      } else if (entry.isDirectory()) {
        walk(file)
      }
    }
  }
  walk(root)
  return found.sort()
}

/**
 * The links in `root` that the sandbox, which shows `root` at another path, cannot follow to what
 * they point at on the host: a ../ out of it, or an absolute path `shows` says it does not show.
 * Links to nothing on the host, and into the sandbox's own folders, are left to the launch.
 */
export function linksTheSandboxCannotFollow(root: string, shows: (hostPath: string) => boolean): string[] {
  return leavingLinks(root, Number.POSITIVE_INFINITY).filter((link) => {
    const file = path.join(root, link)
    const real = realOrUndefined(file)
    return real !== undefined && (!path.isAbsolute(readlinkSync(file)) || !shows(real))
  })
}

/**
 * Copies `root` into the empty folder `dest` as a deploy would zip it: files and folders that
 * links point at are copied in their place, modes kept; links into the sandbox's own folders, and links to
 * nothing, stay links. Refuses a link cycle and more than Lambda's 250 MB unzipped.
 */
export function copyFollowingLinks(root: string, dest: string): void {
  let bytes = 0
  let entries = 0
  const copyDir = (from: string, to: string, ancestors: readonly string[]): void => {
    for (const name of readdirSync(from)) {
      if (++entries > MAX_ENTRIES) {
        throw new HarnessError('ERR_BAD_INPUT', `${JSON.stringify(root)} has more than ${MAX_ENTRIES} files with its links followed`)
      }
      const source = path.join(from, name)
      const target = path.join(to, name)
      const own = lstatSync(source)
      let stats: Stats = own
      if (own.isSymbolicLink()) {
        const link = readlinkSync(source)
        const followed = sandboxPath(link) ? undefined : statSync(source, { throwIfNoEntry: false })
        if (followed === undefined) {
          symlinkSync(link, target)
          continue
        }
        stats = followed
      }
      if (stats.isDirectory()) {
        const real = realpathSync(source)
        if (ancestors.includes(real)) {
          throw new HarnessError('ERR_BAD_INPUT', `${path.relative(root, source)} in ${JSON.stringify(root)} links to a folder that holds it (a cycle no deploy could zip)`)
        }
        mkdirSync(target, { mode: stats.mode & 0o7777 })
        copyDir(source, target, [...ancestors, real])
      } else if (stats.isFile()) {
        bytes += stats.size
        if (bytes > LAMBDA_UNZIPPED_LIMIT_BYTES) {
          throw new HarnessError('ERR_BAD_INPUT', `${JSON.stringify(root)} with its links followed is over Lambda's 250 MB unzipped quota`)
        }
        // copyFileSync keeps the mode: an extension stays executable.
        copyFileSync(source, target)
      }
      // Sockets, FIFOs and devices: no zip holds them.
    }
  }
  copyDir(root, dest, [realpathSync(root)])
}
