// One whole lifecycle as `lambda-harness run` does it: boot, N invokes, Shutdown, the record.
import type { BootOptions, ShutdownReason } from './config/options.js'
import type { RunRecord } from './record/run-record.js'
import { Sandbox, type SandboxHooks } from './sandbox/sandbox.js'

export interface RunPlan {
  readonly boot: BootOptions
  /** The event of every invoke, as bytes (JSON text unless a content type says otherwise). */
  readonly payload: Buffer
  readonly invokes: number
  readonly shutdownReason: ShutdownReason
  /** JSON text every invoke passes as Lambda-Runtime-Client-Context. */
  readonly clientContext?: string
  /**
   * Aborted when the run is interrupted (SIGINT, SIGTERM; its reason says which): the invoke in
   * progress ends, no other starts, and the Shutdown runs as planned, so the record keeps it all.
   */
  readonly interrupt?: AbortSignal
}

export async function runLifecycle(plan: RunPlan, hooks: SandboxHooks = {}): Promise<RunRecord> {
  const sandbox = await Sandbox.boot(plan.boot, hooks)
  const stopListening = sandbox.interruptOn(plan.interrupt)
  try {
    for (let i = 0; i < plan.invokes && plan.interrupt?.aborted !== true; i++) {
      await sandbox.invoke(undefined, { payload: plan.payload, ...(plan.clientContext === undefined ? {} : { clientContext: plan.clientContext }) })
    }
    await sandbox.shutdown({ reason: plan.shutdownReason })
    return sandbox.record
  } finally {
    stopListening()
    await sandbox.dispose()
  }
}
