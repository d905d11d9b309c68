// What the routers need from the sandbox: the current generation's agents and somewhere to
// report what happened. The sandbox's platform adapter implements it; the routers never see processes.
import type { Socket } from 'node:net'
import type { ApiRejection } from '../lifecycle/error-types.js'
import type { ExtensionAgent, ExtensionRegistry } from '../lifecycle/extensions.js'
import type { ExtensionEvent, InvokeEvent } from '../lifecycle/events.js'
import type { RuntimeAgent } from '../lifecycle/runtime.js'

export interface ApiCall {
  readonly surface: 'runtime' | 'extensions' | 'telemetry' | 'unknown'
  /** `runtime`, an extension's name, or undefined when the caller could not be identified. */
  readonly caller: string | undefined
  readonly method: string
  readonly path: string
  /** 0 when the call was still unanswered as the server closed (a /next during Shutdown). */
  readonly status: number
  readonly errorType?: string
  /** When the request arrived, on the sandbox clock. */
  readonly atMs: number
}

export interface FunctionInfo {
  readonly functionName: string
  readonly functionVersion: string
  readonly handler: string
  readonly accountId: string
}

/** The Telemetry and Logs APIs' side of the sandbox. */
export interface TelemetryPort {
  /** A subscribe body from an identified extension: undefined when subscribed (200 "OK"). */
  subscribe(api: 'telemetry' | 'logs', agent: { readonly name: string; readonly external: boolean }, body: Buffer): ApiRejection | undefined
}

export interface PlatformPort {
  readonly runtime: RuntimeAgent
  readonly extensions: ExtensionRegistry
  readonly telemetry: TelemetryPort
  readonly functionInfo: FunctionInfo
  now(): number
  apiCall(call: ApiCall): void
  /** An event was written to a caller's open /next. */
  delivered(caller: string, event: InvokeEvent | ExtensionEvent): void
  registered(agent: ExtensionAgent): void
  extensionError(agent: ExtensionAgent, kind: 'Extension.InitError' | 'Extension.ExitError', reportedType: string): void
  /** A process connected to the API (before its first request). */
  connected?(socket: Socket): void
  /** Who is calling the Runtime API on this connection (`runtime` unless another process is). */
  runtimeCaller?(socket: Socket): string
  /** The API server failed on its own (EMFILE on accept: the harness is out of descriptors). */
  harnessFault?(error: NodeJS.ErrnoException): void
}
