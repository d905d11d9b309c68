// The events the platform sends: an invoke for the runtime, INVOKE and SHUTDOWN for extensions.
import type { ShutdownReason } from '../config/options.js'

export interface InvokeEvent {
  readonly requestId: string
  /** Epoch ms: Lambda-Runtime-Deadline-Ms and the INVOKE event's deadlineMs. */
  readonly deadlineMs: number
  readonly invokedFunctionArn: string
  readonly traceId: string | undefined
  readonly clientContext: string | undefined
  readonly cognitoIdentity: string | undefined
  readonly tenantId: string | undefined
  readonly contentType: string
  readonly payload: Buffer
}

export interface ExtensionInvokeEvent {
  readonly eventType: 'INVOKE'
  readonly deadlineMs: number
  readonly requestId: string
  readonly invokedFunctionArn: string
  readonly tracing?: { readonly type: 'X-Amzn-Trace-Id'; readonly value: string }
}

export interface ExtensionShutdownEvent {
  readonly eventType: 'SHUTDOWN'
  readonly shutdownReason: ShutdownReason
  readonly deadlineMs: number
}

export type ExtensionEvent = ExtensionInvokeEvent | ExtensionShutdownEvent
export type ExtensionEventType = ExtensionEvent['eventType']
export const EXTENSION_EVENT_TYPES: readonly ExtensionEventType[] = ['INVOKE', 'SHUTDOWN']

/** The INVOKE event an extension sees for an invoke: same deadline, tracing left out when absent. */
export function extensionInvokeEvent(event: InvokeEvent): ExtensionInvokeEvent {
  // Two literals rather than a spread of the first into the second (the runtime's slow path).
  return event.traceId === undefined
    ? { eventType: 'INVOKE', deadlineMs: event.deadlineMs, requestId: event.requestId, invokedFunctionArn: event.invokedFunctionArn }
    : {
        eventType: 'INVOKE',
        deadlineMs: event.deadlineMs,
        requestId: event.requestId,
        invokedFunctionArn: event.invokedFunctionArn,
        tracing: { type: 'X-Amzn-Trace-Id', value: event.traceId },
      }
}
