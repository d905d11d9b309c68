// The resource probes a sandbox asked for: a PostgreSQL lease (own server or a shared one) and a
// sink. They hand each process its environment, and after the final Shutdown they say what was
// left behind, as `record.resources` (the verdict judges it).
import { HarnessError } from '../errors.js'
import type { PostgresLease, PostgresProbe } from '../probes/postgres.js'
import type { RunningSink } from '../probes/sink.js'
import type { Recorder } from '../record/recorder.js'

export interface ResourceOptions {
  /** true: a PostgreSQL server of this sandbox's own; a probe: a shared server (the caller owns it). */
  readonly postgres: boolean | PostgresProbe
  readonly postgresBinDir: string | undefined
  readonly sink: boolean
}

export class SandboxResources {
  readonly #ownProbe: PostgresProbe | undefined
  readonly #lease: PostgresLease | undefined
  readonly #sink: RunningSink | undefined
  #closing: Promise<void> | undefined

  private constructor(ownProbe: PostgresProbe | undefined, lease: PostgresLease | undefined, sink: RunningSink | undefined) {
    this.#ownProbe = ownProbe
    this.#lease = lease
    this.#sink = sink
  }

  static async open(options: ResourceOptions, sandboxId: string): Promise<SandboxResources> {
    let ownProbe: PostgresProbe | undefined
    let lease: PostgresLease | undefined
    let sink: RunningSink | undefined
    try {
      if (options.postgres !== false) {
        const probe =
          options.postgres === true
            ? (ownProbe = await (await import('../probes/postgres.js')).PostgresProbe.start(options.postgresBinDir === undefined ? {} : { binDir: options.postgresBinDir }))
            : options.postgres
        lease = await probe.lease(sandboxId)
      }
      if (options.sink) {
        // The probes' modules load only when a probe is asked for (a plain run's start).
        sink = await (await import('../probes/sink.js')).SinkProbe.start()
      }
      return new SandboxResources(ownProbe, lease, sink)
    } catch (error) {
      await lease?.release().catch(() => undefined)
      await ownProbe?.stop().catch(() => undefined)
      await sink?.stop().catch(() => undefined)
      throw error instanceof HarnessError ? error : new HarnessError('ERR_PROBE_FAILED', `could not start a probe: ${String(error)}`, { cause: error })
    }
  }

  /** The host's 127.0.0.1 ports the processes connect to: a sandbox with its own network relays them in. */
  get hostPorts(): number[] {
    return [this.#lease?.databaseUrl, this.#sink?.url].flatMap((url) => (url === undefined ? [] : [Number(new URL(url).port)]))
  }

  get sinkUrl(): string | undefined {
    return this.#sink?.url
  }

  /** Variables for one process: DATABASE_URL and PGAPPNAME=<process>, SINK_URL. */
  env(processName: string): Record<string, string> {
    return {
      ...(this.#lease?.env(processName) ?? {}),
      ...(this.#sink === undefined ? {} : { SINK_URL: this.#sink.url }),
    }
  }

  /** After the final Shutdown: classify what the processes left and record it. */
  async settle(recorder: Recorder): Promise<void> {
    if (this.#lease !== undefined) {
      try {
        recorder.record.resources.postgres = await this.#lease.report()
      } catch (error) {
        // A probe that died mid-run is itself a finding; nothing recorded so far is lost.
        recorder.fault({ kind: 'probe-failed', detail: (error as Error).message })
      }
    }
    if (this.#sink !== undefined) {
      const { requests, records, bytes } = this.#sink.received()
      recorder.record.resources.sink = { url: this.#sink.url, requests, records, bytes }
    }
  }

  /** Idempotent: releases the lease, stops what this sandbox started. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#lease?.release().catch(() => undefined)
      await this.#ownProbe?.stop()
      await this.#sink?.stop()
    })()
    return this.#closing
  }
}
