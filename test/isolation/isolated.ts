// Shared by the isolated-sandbox tests: a bwrap sandbox over the touches-files function, and one
// of its operations as an invoke.
import type { Test } from 'tap'
import type { BootOptions, Sandbox } from '../../harness/index.js'
import { fn, startSandbox } from '../helpers.js'

/** A bwrap sandbox (no fallback to plain processes); an isolation warning fails the test. */
export function bootIsolated(t: Test, options: Partial<BootOptions> = {}): Promise<Sandbox> {
  const warn = (message: string) => (message.startsWith('isolation') ? t.fail(`unexpected warning: ${message}`) : undefined)
  return startSandbox(t, { functionDir: fn('touches-files'), isolation: 'bwrap', ...options }, { warn })
}

/** Runs one touches-files operation and returns its answer; an invoke that fails throws. */
export async function touch(sandbox: Sandbox, event: Record<string, unknown>): Promise<Record<string, unknown>> {
  const result = await sandbox.invoke(event)
  if (result.status !== 'success') {
    throw new Error(`invoke ${JSON.stringify(event)} ended ${result.status}: ${result.response}`)
  }
  return JSON.parse(result.response) as Record<string, unknown>
}
