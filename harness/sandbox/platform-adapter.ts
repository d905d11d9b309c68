// What the API routers see of a sandbox (api/port.ts): the current generation's agents and where
// to report what happened. A separate object, so the routers never hold the public Sandbox.
import type { Socket } from 'node:net'
import type { ApiCall, FunctionInfo, PlatformPort, TelemetryPort } from '../api/port.js'
import type { ExtensionAgent, ExtensionRegistry } from '../lifecycle/extensions.js'
import type { ExtensionEvent, InvokeEvent } from '../lifecycle/events.js'
import type { RuntimeAgent } from '../lifecycle/runtime.js'
import type { SandboxContext } from './context.js'
import { atFdLimit } from './fd-limit.js'

export function platformAdapter(sandbox: SandboxContext): PlatformPort {
  const { recorder, options } = sandbox
  const functionInfo: FunctionInfo = { functionName: options.functionName, functionVersion: '$LATEST', handler: options.handler, accountId: options.accountId }
  return {
    get runtime(): RuntimeAgent {
      return sandbox.current.runtime
    },
    get extensions(): ExtensionRegistry {
      return sandbox.current.extensions
    },
    get telemetry(): TelemetryPort {
      return sandbox.telemetry
    },
    functionInfo,
    now: () => recorder.now(),
    apiCall: (call: ApiCall) => {
      const outcome = call.status === 0 ? 'never answered' : `${call.status}${call.errorType === undefined ? '' : ` ${call.errorType}`}`
      recorder.add('api', `${call.method} ${call.path} → ${outcome}`, call.caller, call.atMs)
    },
    delivered: (caller, event) => delivered(sandbox, caller, event),
    registered: (agent: ExtensionAgent) => sandbox.current.registered(agent),
    extensionError: (agent, kind, reportedType) => {
      const record = sandbox.current.processRecord(agent.name)
      if (record !== undefined) {
        record.reportedError = `${kind} (${reportedType})`
      }
      sandbox.current.raiseFatal({ errorType: kind, message: reportedType, process: agent.name, resetReason: 'failure' })
    },
    connected: (socket: Socket) => {
      sandbox.ownConnections.accepted(socket)
      const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
      if (atFdLimit(fd)) {
        sandbox.faults.harnessOutOfFds(`the processes' connections to the API took its descriptors up to fd ${fd}`)
      }
    },
    // The runtime first: it is the usual caller.
    runtimeCaller: (socket: Socket) =>
      sandbox.runtimeCallers.callerOf(socket, () => sandbox.current.supervised.sort((a, b) => Number(b.name === 'runtime') - Number(a.name === 'runtime'))),
    harnessFault: (error: NodeJS.ErrnoException) => {
      if (error.code === 'EMFILE' || error.code === 'ENFILE') {
        sandbox.faults.harnessOutOfFds(`${error.syscall ?? 'accept'} on the API: ${error.code}`)
      }
    },
  }
}

function delivered(sandbox: SandboxContext, caller: string, event: InvokeEvent | ExtensionEvent): void {
  const { recorder } = sandbox
  const atMs = recorder.now()
  const record = sandbox.current.processRecord(caller)
  if ('eventType' in event) {
    record?.events.push(
      event.eventType === 'INVOKE'
        ? { eventType: 'INVOKE', atMs, requestId: event.requestId, deadlineMs: event.deadlineMs }
        : { eventType: 'SHUTDOWN', atMs, shutdownReason: event.shutdownReason, deadlineMs: event.deadlineMs },
    )
    recorder.add('event', event.eventType === 'INVOKE' ? `INVOKE ${event.requestId}` : `SHUTDOWN (${event.shutdownReason})`, caller, atMs)
  } else {
    recorder.add('event', `invoke ${event.requestId}`, caller, atMs)
  }
}
