// The runtime's side of the Runtime API as a state machine (RAPID core/states.go): what each call
// may do in each state, and the gates the platform awaits (first /next, the answer, the next /next).
import { deferred, type Deferred } from '../wait/index.js'
import { cleanErrorType, reject, type ApiRejection } from './error-types.js'
import type { InvokeEvent } from './events.js'
import { StateMachine, type TransitionTable } from './state-machine.js'

export type RuntimeStateName = 'Started' | 'InitError' | 'Ready' | 'Running' | 'InvocationErrorResponse' | 'RuntimeResponseSentState'
type RuntimeCall = 'next' | 'invoke' | 'response' | 'error' | 'initError'

const RUNTIME_TRANSITIONS: TransitionTable<RuntimeStateName, RuntimeCall> = {
  Started: { next: 'Ready', initError: 'InitError' },
  InitError: {},
  Ready: { invoke: 'Running' },
  // A /next while the invoke is still running re-renders the same invoke (RAPID; UNCONFIRMED in production).
  Running: { next: 'Running', response: 'RuntimeResponseSentState', error: 'InvocationErrorResponse' },
  RuntimeResponseSentState: { next: 'Ready' },
  InvocationErrorResponse: { next: 'Ready' },
}

/** The state names RAPID puts in "State transition from X to Y failed" for each call. */
const TARGET_NAME: Record<RuntimeCall, string> = {
  next: 'Ready',
  invoke: 'Running',
  response: 'InvocationResponse',
  error: 'InvocationErrorResponse',
  initError: 'InitError',
}

/** RAPID's refusal of a runtime transition (InvalidStateTransition). */
function invalidTransition(from: string, call: RuntimeCall): ApiRejection {
  return reject('InvalidStateTransition',
    `State transition from ${from} to ${TARGET_NAME[call]} failed for runtime. Error: State transition is not allowed`,
  )
}

export const INVALID_REQUEST_ID = reject('InvalidRequestID', 'Invalid request ID')

/** The largest response Lambda takes: 6 MiB + 100 bytes (RAPID interop.MaxPayloadSize). */
export const MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100

export type RuntimeAnswer =
  | { readonly kind: 'response'; readonly payload: Buffer; readonly contentType: string }
  | { readonly kind: 'error'; readonly payload: Buffer; readonly contentType: string; readonly errorType: string }
  | { readonly kind: 'tooLarge'; readonly size: number }

export interface RuntimeInitError {
  readonly errorType: string
  readonly payload: Buffer
  readonly contentType: string
}

export class RuntimeAgent {
  readonly #machine = new StateMachine<RuntimeStateName, RuntimeCall>('runtime', RUNTIME_TRANSITIONS, 'Started')
  readonly #initDone = deferred<RuntimeInitError | undefined>()
  #waiter: Deferred<InvokeEvent> | undefined
  #current: InvokeEvent | undefined
  #answer: Deferred<RuntimeAnswer> | undefined
  #nextAfterAnswer: Deferred<void> | undefined
  #closed = false

  get state(): RuntimeStateName {
    return this.#machine.state
  }

  /** Settles at the first /next (undefined) or at /init/error (the error). */
  get initDone(): Promise<RuntimeInitError | undefined> {
    return this.#initDone.promise
  }

  /** GET /next: an event now, an event later, or a refusal. */
  next(): Promise<InvokeEvent> | ApiRejection {
    const from = this.#machine.state
    if (!this.#machine.can('next')) {
      return invalidTransition(from, 'next')
    }
    this.#machine.apply('next')
    if (from === 'Started') {
      this.#initDone.resolve(undefined)
    }
    if (from === 'Running' && this.#current !== undefined) {
      return Promise.resolve(this.#current)
    }
    if (from !== 'Started') {
      this.#nextAfterAnswer?.resolve()
    }
    this.#waiter = deferred<InvokeEvent>()
    // During Shutdown /next is never answered: the runtime is expected to act on SIGTERM instead.
    return this.#waiter.promise
  }

  /** POST /invocation/{id}/response, once the body is read (or found to be too large). */
  respond(requestId: string, answer: { payload: Buffer; contentType: string } | { tooLarge: number }): ApiRejection | undefined {
    const refused = this.#checkAnswer(requestId, 'response')
    if (refused !== undefined) {
      return refused
    }
    this.#machine.apply('response')
    if ('tooLarge' in answer) {
      // The runtime gets RequestEntityTooLarge and the caller Function.ResponseSizeTooLarge: the answer is given,
      // so the runtime's next /next ends the invoke as after any response.
      this.#answer?.resolve({ kind: 'tooLarge', size: answer.tooLarge })
      return reject('RequestEntityTooLarge', `Exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`)
    }
    this.#answer?.resolve({ kind: 'response', ...answer })
    return undefined
  }

  /** POST /invocation/{id}/error. */
  fail(requestId: string, payload: Buffer, contentType: string, errorTypeHeader: string | undefined): ApiRejection | undefined {
    const refused = this.#checkAnswer(requestId, 'error')
    if (refused !== undefined) {
      return refused
    }
    this.#machine.apply('error')
    this.#answer?.resolve({ kind: 'error', payload, contentType, errorType: cleanErrorType(errorTypeHeader) })
    return undefined
  }

  /** POST /init/error: only before the first /next. */
  initError(payload: Buffer, contentType: string, errorTypeHeader: string | undefined): ApiRejection | undefined {
    if (!this.#machine.can('initError')) {
      return invalidTransition(this.#machine.state, 'initError')
    }
    this.#machine.apply('initError')
    this.#initDone.resolve({ errorType: cleanErrorType(errorTypeHeader), payload, contentType })
    return undefined
  }

  /**
   * The platform hands the runtime an invoke. Returns the gates for its answer and for the
   * runtime's following /next, which is when the runtime is done with it.
   */
  deliver(event: InvokeEvent): { answer: Promise<RuntimeAnswer>; nextCalled: Promise<void> } {
    this.#machine.apply('invoke')
    this.#current = event
    this.#answer = deferred()
    this.#nextAfterAnswer = deferred()
    const waiter = this.#waiter
    this.#waiter = undefined
    waiter?.resolve(event)
    return { answer: this.#answer.promise, nextCalled: this.#nextAfterAnswer.promise }
  }

  /** Whether a /next is pending, i.e. the runtime is idle and can take an invoke. */
  get waiting(): boolean {
    return this.#waiter !== undefined && !this.#closed
  }

  /** Shutdown or reset: pending and later /next calls are never answered, and answers are refused. */
  close(): void {
    this.#closed = true
    this.#waiter = undefined
    this.#current = undefined
  }

  /**
   * RAPID's AwsRequestIDValidator middleware: the id is checked before anything the handler checks
   * (response mode, size, state). Undefined when it names the current (or last) invoke.
   */
  requestIdProblem(requestId: string): ApiRejection | undefined {
    return this.#current === undefined || this.#current.requestId !== requestId ? INVALID_REQUEST_ID : undefined
  }

  #checkAnswer(requestId: string, call: 'response' | 'error'): ApiRejection | undefined {
    // RAPID validates the id before the state: a stale id is InvalidRequestID, a second answer InvalidStateTransition.
    const wrongId = this.requestIdProblem(requestId)
    if (wrongId !== undefined) {
      return wrongId
    }
    if (!this.#machine.can(call)) {
      return invalidTransition(this.#machine.state, call)
    }
    return undefined
  }
}
