// Shared by the launcher and holder tests: a sandbox's namespaces, and a process started in them
// (or in plain mode) through the supervisor as the sandbox starts its own, with its lines.
import type { Test } from 'tap'
import { sandboxMountArgs, hostsFile } from '../../harness/isolation/mounts.js'
import { SandboxNamespace } from '../../harness/isolation/namespace.js'
import { PYTHON_RUNTIME_DIR } from '../../harness/paths.js'
import { SupervisedProcess, type ProcessHost, type SpawnSpec } from '../../harness/supervisor/supervisor.js'
import { fn } from '../helpers.js'

/** A sandbox's namespaces over the touches-files function, its processes started by `holder`. */
export async function namespace(t: Test, holder: string): Promise<SandboxNamespace> {
  const ns = await SandboxNamespace.start({
    bwrap: 'bwrap',
    mountArgs: sandboxMountArgs({ functionDir: fn('touches-files'), runtimeDir: PYTHON_RUNTIME_DIR, layers: [], ephemeralStorageMB: 512 }, 4),
    hostsData: hostsFile(''),
    holder,
  })
  t.teardown(() => ns.close())
  return ns
}

/** Starts `file` as the sandbox would, with its lines, and a wait for the first line that matches. */
export function start(t: Test, ns: { readonly host: ProcessHost }, file: string, args: string[], cwd = '/var/task', env: Record<string, string> = { PATH: '/usr/bin:/bin' }) {
  const lines: string[] = []
  const waiters: (() => void)[] = []
  const spec: SpawnSpec = { name: 'p', kind: 'extension', file, args, cwd, env }
  const onLine = (line: string) => {
    lines.push(line)
    waiters.splice(0).forEach((wake) => wake())
  }
  const process = new SupervisedProcess(spec, ns.host, { now: () => performance.now(), onLine: (_p, _s, line) => onLine(line), onExit: () => undefined })
  t.teardown(() => process.destroy())
  /** The first line matching, once printed (each new line is checked; the process's exit ends the wait). */
  const line = async (pattern: RegExp): Promise<string | undefined> => {
    // Output can come before the launcher's report: the pid is known once `launched` settles.
    await process.launched
    for (;;) {
      const found = lines.find((candidate) => pattern.test(candidate))
      if (found !== undefined || process.exit !== undefined) {
        return found
      }
      await Promise.race([new Promise<void>((resolve) => waiters.push(resolve)), process.exited])
    }
  }
  return { process, lines, line }
}
