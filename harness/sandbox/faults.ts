// Faults of the harness and the sandbox itself: they explain a process's end better than the
// process does, and each is in the verdict once.
import type { Recorder } from '../record/recorder.js'
import type { Isolation } from '../isolation/isolation.js'
import type { Fatal } from './generation.js'
import { ownFdLimit } from './fd-limit.js'

export class PlatformFaults {
  readonly #recorder: Recorder
  /** Set once the harness ran out of its own descriptors: the cause, for the verdict. */
  #outOfFds: string | undefined
  /** The holder losses already in the verdict (one problem per lost sandbox). */
  readonly #lossesRecorded = new Set<Isolation>()

  constructor(recorder: Recorder) {
    this.#recorder = recorder
  }

  /** What explains a process's end better than the process: a dead holder, or the harness out of fds. */
  platformFault(isolation: Isolation | undefined): Fatal | undefined {
    const lost = isolation?.lost
    if (isolation !== undefined && lost !== undefined) {
      if (!this.#lossesRecorded.has(isolation)) {
        this.#lossesRecorded.add(isolation)
        this.#recorder.fault({ kind: 'sandbox-holder-killed', detail: lost })
      }
      return { errorType: 'Sandbox.Failure', message: lost, process: 'platform', resetReason: 'failure' }
    }
    if (this.#outOfFds !== undefined) {
      return { errorType: 'Sandbox.Failure', message: `the harness ran out of file descriptors (${this.#outOfFds})`, process: 'platform', resetReason: 'failure' }
    }
    return undefined
  }

  /** The harness's own fault, once in the verdict: never the fault of the process whose connection it dropped. */
  harnessOutOfFds(cause: string): void {
    if (this.#outOfFds !== undefined) {
      return
    }
    this.#outOfFds = cause
    const limit = ownFdLimit()
    this.#recorder.fault({ kind: 'harness-out-of-fds', detail: cause, ...(limit === undefined ? {} : { fdLimit: limit.soft }) })
  }
}
