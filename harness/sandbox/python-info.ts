// What the user's interpreter is: its version, whether it is a free-threaded build, and which
// boto3/botocore it provides (Lambda's Python runtimes ship the SDK; a local interpreter may not).
import { execa } from 'execa'
import { HarnessError } from '../errors.js'

export interface PythonInfo {
  readonly command: string
  /** sys.executable: what the runtime is started with, skipping shims such as pyenv's (~0.5 s each). */
  readonly executable: string
  readonly version: string
  readonly freeThreaded: boolean
  readonly boto3: string | null
  readonly botocore: string | null
}

// importlib.metadata reads versions without importing boto3, which takes ~100 ms.
const PROBE = `
import json, sys, sysconfig
from importlib import metadata
def v(name):
    try:
        return metadata.version(name)
    except Exception:
        return None
print(json.dumps({"version": "%d.%d.%d" % sys.version_info[:3], "executable": sys.executable,
  "freeThreaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
  "boto3": v("boto3"), "botocore": v("botocore")}))
`

const cache = new Map<string, Promise<PythonInfo>>()

/** Runs the interpreter once per command per harness process. */
export function pythonInfo(command: string): Promise<PythonInfo> {
  let info = cache.get(command)
  if (info === undefined) {
    info = probe(command)
    cache.set(command, info)
    info.catch(() => cache.delete(command))
  }
  return info
}

async function probe(command: string): Promise<PythonInfo> {
  const result = await execa(command, ['-c', PROBE], { reject: false, timeout: 20_000, extendEnv: true })
  if (result.failed || result.exitCode !== 0) {
    const why = result.code === 'ENOENT' ? 'not found' : result.stderr.split('\n').slice(-1)[0] || (result.shortMessage ?? 'failed')
    throw new HarnessError('ERR_INVALID_OPTION', `option python: expected a Python interpreter, got ${JSON.stringify(command)} (${why})`, {
      cause: result,
    })
  }
  const parsed = JSON.parse(result.stdout) as Omit<PythonInfo, 'command'>
  return { command, ...parsed }
}
