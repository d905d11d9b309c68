// Shared by the isolation tests: a process's parent from /proc, and a harness process
// (holds-a-sandbox.js) to SIGKILL once it has booted a sandbox and said its pids.
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { once } from 'node:events'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Readable } from 'node:stream'
import type { Test } from 'tap'
import { statFields } from '../../harness/supervisor/process-groups.js'

const HOLDER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'holds-a-sandbox.js')

/** A live (non-zombie) process's parent, or undefined once it is gone. */
export function parentOf(pid: number): number | undefined {
  try {
    const fields = statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'))
    return fields[0] === 'Z' ? undefined : Number(fields[1])
  } catch {
    return undefined
  }
}

/** A process's PID namespace (its /proc/<pid>/ns/pid link), or undefined once it is gone. */
export function pidNamespaceOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`)
  } catch {
    return undefined
  }
}

/** Host pids in the PID namespace `namespace` (a /proc/<pid>/ns/pid link), zombies included. */
export function membersOf(namespace: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry) && pidNamespaceOf(Number(entry)) === namespace)
    .map(Number)
}

/** Starts holds-a-sandbox.js with `args` and resolves with it and the pids it printed; SIGKILLed at teardown. */
export async function holdSandbox(t: Test, args: readonly string[]): Promise<{ holder: ChildProcessByStdio<null, Readable, null>; pids: Record<string, number> }> {
  const holder = spawn(process.execPath, [HOLDER, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => {
    holder.kill('SIGKILL')
  })
  let out = ''
  holder.stdout.setEncoding('utf8')
  while (!out.includes('\n')) {
    const [chunk] = (await Promise.race([once(holder.stdout, 'data'), once(holder, 'exit').then(() => [''])])) as [string]
    if (chunk === '') {
      throw new Error(`the holder exited before printing its pids: ${out}`)
    }
    out += chunk
  }
  return { holder, pids: JSON.parse(out) as Record<string, number> }
}
