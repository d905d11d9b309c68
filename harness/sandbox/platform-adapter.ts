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
  return new PlatformAdapter(sandbox)
}

/** A class, not an object literal of closures: its getters would put each sandbox's in dictionary mode (bench/findings.md, Session 8). */
class PlatformAdapter implements PlatformPort {
  readonly functionInfo: FunctionInfo

  constructor(readonly sandbox: SandboxContext) {
    const { options } = sandbox
    this.functionInfo = { functionName: options.functionName, functionVersion: '$LATEST', handler: options.handler, accountId: options.accountId }
  }

  get runtime(): RuntimeAgent {
    return this.sandbox.current.runtime
  }

  get extensions(): ExtensionRegistry {
    return this.sandbox.current.extensions
  }

  get telemetry(): TelemetryPort {
    return this.sandbox.telemetry
  }

  now(): number {
    return this.sandbox.recorder.now()
  }

  apiCall(call: ApiCall): void {
    const outcome = call.status === 0 ? 'never answered' : `${call.status}${call.errorType === undefined ? '' : ` ${call.errorType}`}`
    this.sandbox.recorder.add('api', `${call.method} ${call.path} → ${outcome}`, call.caller, call.atMs)
  }

  delivered(caller: string, event: InvokeEvent | ExtensionEvent): void {
    delivered(this.sandbox, caller, event)
  }

  registered(agent: ExtensionAgent): void {
    this.sandbox.current.registered(agent)
  }

  extensionError(agent: ExtensionAgent, kind: 'Extension.InitError' | 'Extension.ExitError', reportedType: string): void {
    const record = this.sandbox.current.processRecord(agent.name)
    if (record !== undefined) {
      record.reportedError = `${kind} (${reportedType})`
    }
    this.sandbox.current.raiseFatal({ errorType: kind, message: reportedType, process: agent.name, resetReason: 'failure' })
  }

  connected(socket: Socket): void {
    this.sandbox.ownConnections.accepted(socket)
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
    if (atFdLimit(fd)) {
      this.sandbox.faults.harnessOutOfFds(`the processes' connections to the API took its descriptors up to fd ${fd}`)
    }
  }

  runtimeCaller(socket: Socket): string {
    // The runtime first: it is the usual caller.
    const { sandbox } = this
    return sandbox.runtimeCallers.callerOf(socket, () => sandbox.current.supervised.sort((a, b) => Number(b.name === 'runtime') - Number(a.name === 'runtime')))
  }

  harnessFault(error: NodeJS.ErrnoException): void {
    if (error.code === 'EMFILE' || error.code === 'ENFILE') {
      this.sandbox.faults.harnessOutOfFds(`${error.syscall ?? 'accept'} on the API: ${error.code}`)
    }
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
