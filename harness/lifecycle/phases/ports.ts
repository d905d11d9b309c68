// The small interfaces the phases run against (as RAPID's ProcessSupervisor, rapid/shutdown.go):
// the sandbox wires real processes, the recorder and the telemetry hub to them; tests wire fakes.
import type { ShutdownReason } from '../../config/options.js'
import type { Timers } from '../../wait/index.js'
import type { FatalErrorType } from '../error-types.js'
import type { SignalReason } from '../signal-reasons.js'

/** Milliseconds on the sandbox's clock, and the timers that drive every deadline. */
export interface Clock extends Timers {
  now(): number
  /** ms from `startedAtMs` to now. */
  since(startedAtMs: number): number
  /** Epoch ms for a point on this clock (deadlines on the wire are epoch ms). */
  epochAt(atMs: number): number
  /** The point on this clock of an epoch ms. */
  atEpoch(epochMs: number): number
}

/** One process of the sandbox: the runtime or an external extension. */
export interface ProcessPort {
  readonly name: string
  readonly alive: boolean
  /** SIGTERM, the runtime's notice at Shutdown. */
  terminate(reason: SignalReason, why: string): void
  /** SIGKILL (the sandbox notes what the process held first). */
  kill(reason: SignalReason, why: string): void
  /** Whether it exited within `waitMs` (true at once when it is gone already). */
  waitExit(waitMs: number): Promise<boolean>
}

/** Starts the generation's processes; undefined when a process could not start (the fatal error is raised). */
export interface ProcessStarter {
  start(name: string, kind: 'runtime' | 'extension'): Promise<ProcessPort | undefined>
  process(name: string): ProcessPort | undefined
}

/** The lines of the run's timeline the phases write (Init start, END RequestId, Shutdown start). */
export interface Timeline {
  phase(detail: string, process?: string): void
}

/** The first fatal error of a generation: it ends the current phase and causes a reset. */
export interface Fatal {
  readonly errorType: FatalErrorType | string
  /** RAPID's wording after "Error: ", e.g. "Runtime exited with error: exit status 1". */
  readonly message: string
  readonly process: string
  readonly resetReason: ShutdownReason
  /** A runtime's /init/error body, passed to the caller as it was posted. */
  readonly body?: Buffer
}

/** Ends an invoke's waits when the harness is interrupted: not a Lambda error, never raised as one. */
export const INTERRUPTED: Fatal = { errorType: 'Interrupted', message: 'the harness was interrupted', process: 'platform', resetReason: 'spindown' }

/** ms to the microsecond, as RAPID's durations. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000
}
