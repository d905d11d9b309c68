// Ctrl-C and SIGTERM for the CLI's commands: the first one stops the run and lets it report (a
// Shutdown, the record, --json, then exit 130 or 143, as a shell expects of a signalled command);
// a second one exits at once, and the exit hook (supervisor/exit-hook.ts) SIGKILLs every live group.
import { constants } from 'node:os'

export interface Interrupt {
  /** Aborted at the first signal; its reason is the signal's name. */
  readonly signal: AbortSignal
  /** 128 + the signal's number once interrupted (130 for SIGINT, 143 for SIGTERM), else undefined. */
  exitCode(): number | undefined
  /** Stops listening: the default actions come back. */
  remove(): void
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const

/** `firstNote`: what the first signal does, said on it (none for a caller that says nothing then). */
export function interruptOnSignals(write: (text: string) => void, firstNote: string | undefined = 'stopping the run (Shutdown, then the report)'): Interrupt {
  const controller = new AbortController()
  let first: NodeJS.Signals | undefined
  const onSignal = (signal: NodeJS.Signals) => {
    const code = 128 + constants.signals[signal]
    if (first !== undefined) {
      write(`lambda-harness: ${signal} again: stopping now, without the report\n`)
      process.exit(code)
    }
    first = signal
    if (firstNote !== undefined) {
      write(`lambda-harness: ${signal}: ${firstNote}; ${signal} again stops at once\n`)
    }
    controller.abort(signal)
  }
  for (const signal of SIGNALS) {
    process.on(signal, onSignal)
  }
  return {
    signal: controller.signal,
    exitCode: () => (first === undefined ? undefined : 128 + constants.signals[first]),
    remove: () => {
      for (const signal of SIGNALS) {
        process.off(signal, onSignal)
      }
    },
  }
}
