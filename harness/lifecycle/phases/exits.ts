// What a process's exit means (RAPID watchEvents; LAMBDA-SPEC §3.3): outside Shutdown any exit is
// a crash; during Shutdown an extension's exit 0 is Exited and anything else ShutdownFailed.
import { describeExit } from '../error-types.js'
import type { ExtensionAgent } from '../extensions.js'
import type { Fatal } from './ports.js'

/** Moves an external's agent to Exited or ShutdownFailed, unless it has ended already. */
export function extensionExited(agent: ExtensionAgent | undefined, shuttingDown: boolean, code: number | null): void {
  if (agent !== undefined && !agent.ended) {
    agent.apply(shuttingDown && code !== 0 ? 'shutdownFailed' : 'exit')
  }
}

/** The fatal error of a process that ended outside Shutdown. */
export function crashFatal(kind: 'runtime' | 'extension', name: string, code: number | null, signal: string | null): Fatal {
  if (kind === 'runtime') {
    const message = code === 0 && signal === null ? 'Runtime exited without providing a reason' : `Runtime exited with error: ${describeExit(code, signal)}`
    return { errorType: 'Runtime.ExitError', message, process: name, resetReason: 'failure' }
  }
  return { errorType: 'Extension.Crash', message: describeExit(code, signal), process: name, resetReason: 'failure' }
}
