// The Sandbox: one execution environment, and the public API over it. It serialises phases and
// turns failures into resets as Lambda does; the API routers see its platform adapter instead.
import type { Socket } from 'node:net'
import { type BootOptions, type ShutdownReason, SHUTDOWN_REASONS, invalid } from '../config/options.js'
import { HarnessError } from '../errors.js'
import type { InvocationRecord, RunRecord, ShutdownRecord } from '../record/run-record.js'
import { bootContext, type SandboxHooks } from './boot-steps.js'
import type { SandboxContext } from './context.js'
import { shutdownAfterReset, shutdownGeneration } from './generations.js'
import { invokeOnce, type InvokeOptions } from './invoke.js'

export { HARNESS_VERSION } from './version.js'
export type { SandboxHooks } from './boot-steps.js'
export type { InvokeOptions } from './invoke.js'

/** The Invoke API's synchronous request limit (6 MiB). */
export const MAX_REQUEST_BYTES = 6291456

export interface ShutdownOptions {
  readonly reason?: ShutdownReason
}

export class Sandbox implements AsyncDisposable {
  readonly #sandbox: SandboxContext
  #queue: Promise<unknown> = Promise.resolve()
  #shutDown = false
  #disposing: Promise<void> | undefined

  private constructor(sandbox: SandboxContext) {
    this.#sandbox = sandbox
  }

  /**
   * Validates, starts the isolation, the probes and the API server, and runs Init. A failed Init
   * is recorded, not thrown; a failure before it undoes what started and is thrown.
   */
  static async boot(options: BootOptions, hooks: SandboxHooks = {}): Promise<Sandbox> {
    return new Sandbox(await bootContext(options, hooks))
  }

  /** Now on the record's clock (ms since boot): the `atMs` of the timeline. */
  now(): number {
    return this.#sandbox.recorder.now()
  }

  /** A copy of the record so far. */
  get record(): RunRecord {
    return this.#sandbox.recorder.snapshot()
  }

  /**
   * A connection to 127.0.0.1:`port` as the sandbox's processes reach it: inside its own network
   * when it has one (the API at 9001, a subscriber's listener), else on the host's loopback.
   */
  connectInside(port: number, signal?: AbortSignal): Promise<Socket> {
    return this.#sandbox.connectInside(port, signal)
  }

  /** Where the API server listens, as the processes see it: the AWS_LAMBDA_RUNTIME_API value. */
  get runtimeApi(): string {
    this.#assertNotDisposed()
    return this.#sandbox.server.address
  }

  /**
   * Invokes the function. Function errors, timeouts and crashes are results; a failure resets
   * the sandbox and the next invoke runs a suppressed Init first, as Lambda does.
   */
  invoke(event: unknown = {}, options: InvokeOptions = {}): Promise<InvocationRecord> {
    this.#assertNotDisposed()
    if (this.#shutDown) {
      return Promise.reject(new HarnessError('ERR_SHUT_DOWN', 'invoke() after shutdown(): boot a new sandbox'))
    }
    const payload =
      options.payload !== undefined ? Buffer.from(options.payload) : Buffer.from(JSON.stringify(event === undefined ? {} : event), 'utf8')
    if (payload.length > MAX_REQUEST_BYTES) {
      return Promise.reject(
        new HarnessError('ERR_BAD_INPUT', `Request must be smaller than ${MAX_REQUEST_BYTES} bytes for the InvokeFunction operation (got ${payload.length})`),
      )
    }
    return this.#serialise(() => invokeOnce(this.#sandbox, payload, options))
  }

  /**
   * The harness was interrupted (SIGINT, SIGTERM): the record says so, and the invoke in progress
   * ends now, unanswered. Call shutdown() then, as the run would have: nothing recorded is lost.
   */
  interrupt(why: string): void {
    this.#assertNotDisposed()
    const { recorder } = this.#sandbox
    if (recorder.record.interrupted) {
      return
    }
    recorder.record.interrupted = true
    recorder.fault({ kind: 'interrupted', detail: why })
    this.#sandbox.current?.interrupt()
  }

  /** Interrupts the sandbox when `signal` aborts (at once if it has); the returned function stops listening. */
  interruptOn(signal: AbortSignal | undefined): () => void {
    const interrupt = () => this.interrupt(String(signal?.reason))
    signal?.addEventListener('abort', interrupt, { once: true })
    if (signal?.aborted === true) {
      interrupt()
    }
    return () => signal?.removeEventListener('abort', interrupt)
  }

  /** Shuts the sandbox down with Lambda's algorithm; the sandbox takes no invokes afterwards. */
  shutdown(options: ShutdownOptions = {}): Promise<ShutdownRecord> {
    this.#assertNotDisposed()
    const reason = options.reason ?? 'spindown'
    if (!SHUTDOWN_REASONS.includes(reason)) {
      return Promise.reject(invalid('reason', SHUTDOWN_REASONS.join(' | '), reason))
    }
    if (this.#shutDown) {
      return Promise.reject(new HarnessError('ERR_SHUT_DOWN', 'shutdown() was already called'))
    }
    this.#shutDown = true
    const sandbox = this.#sandbox
    return this.#serialise(async () => {
      const record = sandbox.live ? await shutdownGeneration(sandbox, reason, true) : await shutdownAfterReset(sandbox, reason)
      await sandbox.resources?.settle(sandbox.recorder)
      await sandbox.server.close()
      return structuredClone(record)
    })
  }

  /** Idempotent: kills every process group, closes the server. Throws the first error at the end. */
  dispose(): Promise<void> {
    const sandbox = this.#sandbox
    this.#disposing ??= (async () => {
      sandbox.controller.abort(new HarnessError('ERR_DISPOSED', 'the sandbox was disposed'))
      // Every step runs even when one before it failed; the first failure is thrown at the end.
      const steps: (() => unknown)[] = [
        () => sandbox.current?.destroy(),
        // A dispose without the final Shutdown: a plain daemon must not outlive the sandbox either.
        () => (sandbox.isolation?.mode === 'none' ? sandbox.isolation.dispose() : undefined),
        () => sandbox.resources?.close(),
        () => sandbox.telemetry.close(),
        () => sandbox.server?.close(),
        // Plain mode's already ran above; its dispose() runs once however often it is called.
        () => sandbox.isolation?.dispose(),
        // After the processes and bind mounts are gone.
        () => sandbox.layers?.cleanup(),
      ]
      const errors: unknown[] = []
      for (const step of steps) {
        try {
          await step()
        } catch (error) {
          errors.push(error)
        }
      }
      if (errors.length > 0) {
        throw errors[0]
      }
    })()
    return this.#disposing
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose()
  }

  #serialise<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(operation)
    this.#queue = run.catch(() => undefined)
    return run
  }

  #assertNotDisposed(): void {
    if (this.#disposing !== undefined) {
      throw new HarnessError('ERR_DISPOSED', 'the sandbox was disposed')
    }
  }
}

/** Convenience: `await boot(options)`. */
export function boot(options: BootOptions, hooks?: SandboxHooks): Promise<Sandbox> {
  return Sandbox.boot(options, hooks)
}
