// The data directory of a throwaway PostgreSQL server: where it goes, and initdb's output kept
// once per set of binaries and copied for each later server instead of running initdb again.
import { createHash, randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { access, mkdir, readdir, realpath, rename, rm, stat, statfs } from 'node:fs/promises'
import { homedir, platform, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { execa } from 'execa'

/**
 * Where initdb's fresh cluster for these binaries and this owner is kept: initdb is most of a
 * server's start (1–5 s measured, bench/findings.md session 7) and its output is the same every time,
 * so each later start copies it instead. ${XDG_CACHE_HOME:-~/.cache}/lambda-harness/postgres/<key>.
 */
export async function templateDir(binDir: string, initdbArgs: readonly string[], ownerUid: number | undefined): Promise<string | undefined> {
  try {
    const binaries = await Promise.all(['initdb', 'postgres'].map((name) => stat(join(binDir, name)).then((s) => [s.size, s.mtimeMs])))
    const key = createHash('sha256')
      .update(JSON.stringify([await realpath(binDir), binaries, initdbArgs, ownerUid ?? process.getuid?.() ?? null]))
      .digest('hex')
      .slice(0, 16)
    return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'lambda-harness', 'postgres', key)
  } catch {
    // No binaries there: initdb says so in its own words.
    return undefined
  }
}

/** Free space /dev/shm must have to hold a data directory (~30 MB fresh) and what the run writes. */
const SHM_MIN_FREE_BYTES = 512 * 1024 * 1024

/**
 * Where the data directory goes: TMPDIR when it is set, else /dev/shm when it is a roomy tmpfs, else
 * the OS temp folder. The cluster is throwaway (fsync off); on a busy disk, writing its ~30 MB took
 * 4.5–6.5 s against 0.5–0.8 s in /dev/shm (bench/findings.md session 7).
 */
export async function dataParent(): Promise<string> {
  if (process.env.TMPDIR === undefined && platform() === 'linux') {
    const shm = await statfs('/dev/shm').catch(() => undefined)
    if (shm !== undefined && shm.bavail * shm.bsize >= SHM_MIN_FREE_BYTES && (await access('/dev/shm', constants.W_OK).then(() => true, () => false))) {
      return '/dev/shm'
    }
  }
  return tmpdir()
}

/** Copies the cached cluster into the empty data directory, owners and modes kept; false when there is none (or it failed). */
export async function copyTemplate(template: string, dataDir: string): Promise<boolean> {
  if (!(await stat(join(template, 'PG_VERSION')).then(() => true, () => false))) {
    return false
  }
  const result = await execa('cp', ['-a', `${template}/.`, dataDir], { reject: false })
  if (result.failed) {
    await emptyDir(dataDir)
  }
  return !result.failed
}

/** Keeps a fresh cluster for the next start: copied aside, then renamed into place, so a reader never sees half of one. */
export async function saveTemplate(dataDir: string, template: string): Promise<void> {
  const partial = `${template}.${process.pid}-${randomBytes(4).toString('hex')}`
  try {
    await mkdir(dirname(template), { recursive: true, mode: 0o700 })
    const copied = await execa('cp', ['-a', dataDir, partial], { reject: false })
    if (!copied.failed) {
      // Another start may have saved one first: theirs is as good.
      await rename(partial, template).catch(() => undefined)
    }
  } catch {
    // No cache (a read-only home): every start runs initdb, as before.
  } finally {
    await rm(partial, { recursive: true, force: true })
  }
}

export async function emptyDir(dir: string): Promise<void> {
  await Promise.all((await readdir(dir)).map((entry) => rm(join(dir, entry), { recursive: true, force: true })))
}
