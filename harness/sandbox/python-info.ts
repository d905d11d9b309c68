// What the user's interpreter is: its version, whether it is a free-threaded build, and which
// boto3/botocore it provides (Lambda's Python runtimes ship the SDK; a local interpreter may not).
// Running the interpreter is the dearest part of a first boot, so the answer is kept per harness
// process and, for an interpreter run by its own path (not through a shim), on disk.
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { accessSync, constants, lstatSync, readFileSync, realpathSync, statSync } from 'node:fs'
import path from 'node:path'
import { privateCacheFolder, writeCacheFile } from '../cache.js'
import { HarnessError } from '../errors.js'
import { runInImage } from '../isolation/image-root.js'

export interface PythonInfo {
  readonly command: string
  /** sys.executable: what the runtime is started with, skipping shims such as pyenv's (~0.5 s each). */
  readonly executable: string
  readonly version: string
  readonly freeThreaded: boolean
  readonly boto3: string | null
  readonly botocore: string | null
  /** Whether `import awslambdaric` finds the module (runtimeClient "awslambdaric" runs it with -m). */
  readonly awslambdaric: boolean
  /** The interpreter's own sys.path folders (not the host's PYTHONPATH): where else a handler's module can come from. */
  readonly sysPath: readonly string[]
}

// No imports beyond what site already loaded: importlib.metadata costs ~100 ms, json and sysconfig
// ~15 ms more. A distribution's version is its METADATA's (PKG-INFO for an egg) `Version:`, from the
// first sys.path folder that has it, as importlib.metadata finds it. The free-threaded build is the
// one whose ABI flags carry "t" (Py_GIL_DISABLED). awslambdaric is looked up as `import` would
// (sys.meta_path's finders), without importing it. Fields are NUL-separated: no path holds a NUL.
// `watch` is what the answer depends on besides the interpreter: each sys.path folder (and the
// user site, which appears only once it exists) with its mtime; installing a package changes it.
const PROBE = `
import os, site, sys
def version(name):
    prefix = name + "-"
    for folder in sys.path:
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        for entry in names:
            lower = entry.lower()
            if lower.startswith(prefix) and (lower.endswith(".dist-info") or lower.endswith(".egg-info")):
                for meta in ("METADATA", "PKG-INFO"):
                    try:
                        with open(os.path.join(folder or ".", entry, meta), encoding="utf-8", errors="replace") as file:
                            for line in file:
                                if line.startswith("Version:"):
                                    return line[8:].strip()
                                if not line.strip():
                                    break
                    except OSError:
                        pass
                return entry[len(prefix):].rsplit(".", 1)[0].split("-")[0]
    return ""
def mtime(folder):
    try:
        return str(os.stat(folder).st_mtime_ns)
    except OSError:
        return "-"
def findable(name):
    return any(getattr(finder, "find_spec", None) and finder.find_spec(name, None) for finder in sys.meta_path)
watched = [p for p in sys.path if p] + ([site.USER_SITE] if site.ENABLE_USER_SITE and site.USER_SITE not in sys.path else [])
fields = ["%d.%d.%d" % sys.version_info[:3], sys.executable, "t" in getattr(sys, "abiflags", "") and "1" or "", version("boto3"), version("botocore"), findable("awslambdaric") and "1" or ""]
for folder in watched:
    fields += [folder, mtime(folder)]
sys.stdout.write("\\0".join(fields))
`

/** The probe's answer and the folders (with their mtimes, ns) it was read from. */
interface Probed {
  readonly info: Omit<PythonInfo, 'command' | 'sysPath'>
  readonly watch: readonly (readonly [string, string])[]
}

/** The folders the probe watched are the interpreter's sys.path (and user site), less the host's PYTHONPATH, which the sandbox replaces. */
function withSysPath(command: string, probed: Probed): PythonInfo {
  const hostPath = new Set((process.env.PYTHONPATH ?? '').split(':').filter((folder) => folder !== '').map((folder) => path.resolve(folder)))
  return { command, ...probed.info, sysPath: probed.watch.map(([folder]) => folder).filter((folder) => !hostPath.has(path.resolve(folder))) }
}

/** Bump when PROBE's meaning changes, so answers of an older harness are not reused. */
const CACHE_VERSION = 2
/** Environment that changes what the interpreter finds (its sys.path). */
const PATH_VARIABLES = ['PYTHONPATH', 'PYTHONHOME', 'PYTHONUSERBASE', 'PYTHONNOUSERSITE', 'PYTHONSAFEPATH', 'PYTHONPLATLIBDIR'] as const

const cache = new Map<string, Promise<PythonInfo>>()

/**
 * Runs the interpreter once per command per harness process, or not at all when disk has its
 * answer. With `imageRoot`, `command` is an interpreter inside that root and runs there.
 */
export function pythonInfo(command: string, imageRoot?: string): Promise<PythonInfo> {
  const key = imageRoot === undefined ? command : `${imageRoot}\0${command}`
  let info = cache.get(key)
  if (info === undefined) {
    info = imageRoot === undefined ? load(command) : probeInImage(command, imageRoot)
    cache.set(key, info)
    info.catch(() => cache.delete(key))
  }
  return info
}

/** An image's interpreter, probed inside the image (no disk cache: the image's files are not watched). */
async function probeInImage(command: string, root: string): Promise<PythonInfo> {
  let stdout: string
  try {
    stdout = await runInImage(root, [command, '-c', PROBE])
  } catch (error) {
    throw new HarnessError('ERR_INVALID_OPTION', `option python: expected a Python interpreter inside the image ${root}, got ${JSON.stringify(command)} (${(error as Error).message})`, { cause: error })
  }
  const probed = parseProbe(command, stdout)
  if (probed === undefined) {
    throw new HarnessError('ERR_INVALID_OPTION', `option python: expected a Python interpreter inside the image ${root}, got ${JSON.stringify(command)} (it printed ${JSON.stringify(stdout.slice(0, 80))})`)
  }
  return { command, ...probed.info, sysPath: probed.watch.map(([folder]) => folder) }
}

function parseProbe(command: string, stdout: string): Probed | undefined {
  const [version = '', executable = '', freeThreaded = '', boto3 = '', botocore = '', awslambdaric = '', ...watched] = stdout.split('\0')
  if (!/^\d+\.\d+\.\d+$/.test(version)) {
    return undefined
  }
  const watch: (readonly [string, string])[] = []
  for (let i = 0; i + 1 < watched.length; i += 2) {
    watch.push([watched[i]!, watched[i + 1]!])
  }
  return { info: { version, executable: executable || command, freeThreaded: freeThreaded === '1', boto3: boto3 || null, botocore: botocore || null, awslambdaric: awslambdaric === '1' }, watch }
}

async function load(command: string): Promise<PythonInfo> {
  const key = cacheKey(command)
  const stored = key === undefined ? undefined : readCached(key.file)
  if (stored !== undefined) {
    return withSysPath(command, stored)
  }
  const probed = await probe(command)
  // Only an interpreter run directly: a shim (pyenv's) picks a different one by folder or variable.
  if (key !== undefined && sameFile(key.interpreter, probed.info.executable)) {
    writeCached(key.file, probed)
  }
  return withSysPath(command, probed)
}

function probe(command: string): Promise<Probed> {
  return new Promise((resolve, reject) => {
    execFile(command, ['-c', PROBE], { timeout: 20_000, maxBuffer: 1024 * 1024 }, (error, stdout, stderr) => {
      if (error !== null) {
        const code = (error as NodeJS.ErrnoException).code
        const why = code === 'ENOENT' ? 'not found' : stderr.trim().split('\n').slice(-1)[0] || (error.killed ? 'timed out' : error.message.split('\n')[0])
        reject(new HarnessError('ERR_INVALID_OPTION', `option python: expected a Python interpreter, got ${JSON.stringify(command)} (${why})`, { cause: error }))
        return
      }
      const probed = parseProbe(command, stdout)
      if (probed === undefined) {
        reject(new HarnessError('ERR_INVALID_OPTION', `option python: expected a Python interpreter, got ${JSON.stringify(command)} (it printed ${JSON.stringify(stdout.slice(0, 80))})`))
        return
      }
      resolve(probed)
    })
  })
}

// ---- The disk cache ---------------------------------------------------------------------------

/** Where the command's answer would be kept, or undefined when it cannot be (no such file, no cache folder). */
function cacheKey(command: string): { file: string; interpreter: string } | undefined {
  const interpreter = resolveCommand(command)
  const folder = interpreter === undefined ? undefined : privateCacheFolder('python')
  if (interpreter === undefined || folder === undefined) {
    return undefined
  }
  try {
    const real = realpathSync(interpreter)
    const stat = statSync(real)
    // The link itself too: a virtualenv recreated at the same place has a new python link.
    const link = lstatSync(interpreter)
    const env = PATH_VARIABLES.map((name) => process.env[name] ?? null)
    const id = JSON.stringify([CACHE_VERSION, command, interpreter, real, stat.size, stat.mtimeMs, stat.ino, link.mtimeMs, env])
    return { file: path.join(folder, `python-${createHash('sha256').update(id).digest('hex').slice(0, 32)}.json`), interpreter }
  } catch {
    return undefined
  }
}

/** The file a command runs: a path as given, a name as found on PATH. */
function resolveCommand(command: string): string | undefined {
  if (command.includes('/')) {
    return path.resolve(command)
  }
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = path.resolve(dir === '' ? '.' : dir, command)
    try {
      accessSync(candidate, constants.X_OK)
      if (statSync(candidate).isFile()) {
        return candidate
      }
    } catch {
      // Not here.
    }
  }
  return undefined
}

function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b)
  } catch {
    return false
  }
}

/** The stored answer, if every folder it was read from is unchanged. */
function readCached(file: string): Probed | undefined {
  try {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Probed
    const unchanged = stored.watch.every(([folder, mtime]) => {
      const stat = statSync(folder, { bigint: true, throwIfNoEntry: false })
      return (stat === undefined ? '-' : String(stat.mtimeNs)) === mtime
    })
    return unchanged && typeof stored.info?.version === 'string' ? stored : undefined
  } catch {
    return undefined
  }
}

function writeCached(file: string, probed: Probed): void {
  // A cache that cannot be written only costs the next process a probe.
  writeCacheFile(file, JSON.stringify(probed))
}

/** Rejects, as a user error on runtimeClient, an interpreter that cannot import awslambdaric (it runs with -m). */
export function requireAwslambdaric(python: PythonInfo): void {
  if (!python.awslambdaric) {
    throw new HarnessError(
      'ERR_INVALID_OPTION',
      `option runtimeClient: expected an interpreter that can import awslambdaric (e.g. make setup's .venv/bin/python), got ${JSON.stringify(python.executable || python.command)} (ModuleNotFoundError: No module named 'awslambdaric')`,
    )
  }
}
