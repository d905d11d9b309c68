// The Extensions API's agents and their registration rules (RAPID agentregister.go,
// core/registrations.go, core/agent_state_names.go).
import { randomUUID } from 'node:crypto'
import { deferred, type Deferred } from '../wait/index.js'
import { isRejection, reject, type ApiRejection } from './error-types.js'
import { EXTENSION_EVENT_TYPES, type ExtensionEvent, type ExtensionEventType } from './events.js'
import { StateMachine, type TransitionTable } from './state-machine.js'

export type ExtensionStateName =
  | 'Started'
  | 'Registered'
  | 'Ready'
  | 'Running'
  | 'InitError'
  | 'ExitError'
  | 'ShutdownFailed'
  | 'Exited'
  | 'LaunchError'
type ExtensionCall = 'register' | 'next' | 'deliver' | 'initError' | 'exitError' | 'launchError' | 'exit' | 'shutdownFailed'

const ENDED = { exit: 'Exited', shutdownFailed: 'ShutdownFailed' } as const
const EXTENSION_TRANSITIONS: TransitionTable<ExtensionStateName, ExtensionCall> = {
  Started: { register: 'Registered', launchError: 'LaunchError', ...ENDED },
  Registered: { next: 'Ready', initError: 'InitError', exitError: 'ExitError', ...ENDED },
  Ready: { deliver: 'Running', exitError: 'ExitError', ...ENDED },
  Running: { next: 'Ready', exitError: 'ExitError', ...ENDED },
  InitError: ENDED,
  ExitError: ENDED,
  ShutdownFailed: {},
  Exited: {},
  LaunchError: {},
}

const TARGET_NAME: Record<ExtensionCall, ExtensionStateName> = {
  register: 'Registered',
  next: 'Ready',
  deliver: 'Running',
  initError: 'InitError',
  exitError: 'ExitError',
  launchError: 'LaunchError',
  exit: 'Exited',
  shutdownFailed: 'ShutdownFailed',
}

/** RAPID MaxAgentsAllowed: internal and external together. */
export const MAX_EXTENSIONS = 10

const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const BARE_UUID = /^[0-9a-f]{32}$/i

/**
 * An identifier as RAPID's uuid.Parse (google/uuid 1.6) reads it, in its canonical lower-case
 * text, or undefined when it is not one. Parse takes four forms, hex in either case: the 8-4-4-4-12
 * text, `urn:uuid:` (prefix in either case) before it, the 32 digits alone, and 38 characters
 * around it, where Parse skips the first and never looks at the last; we ask for the braces those
 * two are meant to be (the stricter reading).
 */
export function parseUuid(text: string): string | undefined {
  let dashed = text
  if (text.length === 45 && text.slice(0, 9).toLowerCase() === 'urn:uuid:') {
    dashed = text.slice(9)
  } else if (text.length === 38 && text.startsWith('{') && text.endsWith('}')) {
    dashed = text.slice(1, 37)
  } else if (BARE_UUID.test(text)) {
    dashed = `${text.slice(0, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}-${text.slice(16, 20)}-${text.slice(20)}`
  }
  return CANONICAL_UUID.test(dashed) ? dashed.toLowerCase() : undefined
}

export class ExtensionAgent {
  readonly id = randomUUID()
  readonly name: string
  /** External agents are the files of /opt/extensions; any other registered name is internal. */
  readonly external: boolean
  events: ReadonlySet<ExtensionEventType> = new Set()
  /** The errorType an extension reported through init/error or exit/error. */
  reportedError: string | undefined
  readonly #machine: StateMachine<ExtensionStateName, ExtensionCall>
  readonly #mailbox: ExtensionEvent[] = []
  #waiter: Deferred<ExtensionEvent> | undefined
  #firstNext = deferred<void>()
  #nextAfterEvent: Deferred<void> | undefined
  #everRegistered = false

  constructor(name: string, external: boolean) {
    this.name = name
    this.external = external
    this.#machine = new StateMachine(`extension ${name}`, EXTENSION_TRANSITIONS, external ? 'Started' : 'Registered')
  }

  get state(): ExtensionStateName {
    return this.#machine.state
  }

  /** Settles at this agent's first /event/next: it counts toward Init completion. */
  get ready(): Promise<void> {
    return this.#firstNext.promise
  }

  /** Whether an ended process may still be expected to make API calls. */
  get ended(): boolean {
    return ['ShutdownFailed', 'Exited', 'LaunchError'].includes(this.state)
  }

  subscribed(eventType: ExtensionEventType): boolean {
    return this.events.has(eventType)
  }

  refusal(call: ExtensionCall): ApiRejection {
    return reject('Extension.InvalidExtensionState',
      `State transition from ${this.state} to ${TARGET_NAME[call]} failed for extension ${this.name}. Error: State transition is not allowed`,
    )
  }

  /** GET /event/next: the next subscribed event, now or later. */
  next(): Promise<ExtensionEvent> | ApiRejection {
    if (!this.#machine.can('next')) {
      return this.refusal('next')
    }
    this.#machine.apply('next')
    this.#firstNext.resolve()
    this.#nextAfterEvent?.resolve()
    const queued = this.#mailbox.shift()
    if (queued !== undefined) {
      this.#machine.apply('deliver')
      return Promise.resolve(queued)
    }
    this.#waiter = deferred()
    return this.#waiter.promise
  }

  /** Hands an event over; the returned gate settles when the agent calls /event/next again. */
  deliver(event: ExtensionEvent): Promise<void> {
    this.#nextAfterEvent = deferred()
    const waiter = this.#waiter
    if (waiter !== undefined && this.#machine.can('deliver')) {
      this.#waiter = undefined
      this.#machine.apply('deliver')
      waiter.resolve(event)
    } else {
      this.#mailbox.push(event)
    }
    return this.#nextAfterEvent.promise
  }

  apply(call: 'register' | 'initError' | 'exitError' | 'launchError' | 'exit' | 'shutdownFailed'): void {
    this.#machine.apply(call)
    if (call === 'register') {
      this.#everRegistered = true
    }
  }

  /** Whether it got through /register at some point (an external may exit without ever doing so). */
  get everRegistered(): boolean {
    return this.#everRegistered || !this.external
  }

  can(call: ExtensionCall): boolean {
    return this.#machine.can(call)
  }
}

export interface RegisterRequest {
  readonly name: string | undefined
  /** The raw body: RAPID requires JSON (an empty body fails; clients send `{}`). */
  readonly body: Buffer
  readonly acceptFeatures: string | undefined
}

export class ExtensionRegistry {
  readonly #agents = new Map<string, ExtensionAgent>()
  readonly #externalsByName = new Map<string, ExtensionAgent>()
  #registrationClosed = false

  /** Pre-creates one external agent per file of /opt/extensions, named by its file name. */
  constructor(externalNames: readonly string[]) {
    for (const name of externalNames) {
      const agent = new ExtensionAgent(name, true)
      this.#externalsByName.set(name, agent)
      this.#agents.set(agent.id, agent)
    }
  }

  get all(): ExtensionAgent[] {
    return [...this.#agents.values()]
  }

  get externals(): ExtensionAgent[] {
    return [...this.#externalsByName.values()]
  }

  get internals(): ExtensionAgent[] {
    return this.all.filter((agent) => !agent.external)
  }

  /** Registered in the sense of RAPID's CountAgents: any agent that got through /register. */
  get registered(): ExtensionAgent[] {
    return this.all.filter((agent) => agent.everRegistered)
  }

  external(name: string): ExtensionAgent | undefined {
    return this.#externalsByName.get(name)
  }

  /** The runtime's first /next closes registration for internal extensions. */
  closeRegistration(): void {
    this.#registrationClosed = true
  }

  register(request: RegisterRequest): ExtensionAgent | ApiRejection {
    const { name } = request
    if (name === undefined || name === '') {
      return reject('Extension.InvalidExtensionName', 'Empty extension name')
    }
    const parsed = parseRegisterBody(request.body)
    if (isRejection(parsed)) {
      return parsed
    }
    const external = this.#externalsByName.get(name)
    if (external !== undefined) {
      if (!external.can('register')) {
        return external.refusal('register')
      }
      external.apply('register')
      external.events = parsed
      return external
    }
    // Any other name is a new *internal* extension: a typo in an external's name lands here.
    if (this.#registrationClosed) {
      return reject('Extension.RegistrationClosed', 'Extension registration closed already')
    }
    if (this.internals.some((agent) => agent.name === name)) {
      return reject('Extension.InvalidExtensionState', 'Extension with this name already registered')
    }
    if (this.#agents.size >= MAX_EXTENSIONS) {
      return reject('Extension.TooManyExtensions', `Extension limit (${MAX_EXTENSIONS}) reached`)
    }
    if (parsed.has('SHUTDOWN')) {
      return reject('Extension.InvalidEventType', 'SHUTDOWN: ShutdownEventNotSupportedForInternalExtension')
    }
    const agent = new ExtensionAgent(name, false)
    agent.events = parsed
    this.#agents.set(agent.id, agent)
    return agent
  }

  /** Finds the caller by its Lambda-Extension-Identifier header. */
  identify(header: string | undefined, unknownMessage?: string): ExtensionAgent | ApiRejection {
    if (header === undefined || header === '') {
      return reject('Extension.MissingExtensionIdentifier', 'Missing Lambda-Extension-Identifier header')
    }
    const id = parseUuid(header)
    if (id === undefined) {
      return reject('Extension.InvalidExtensionIdentifier', 'Invalid Lambda-Extension-Identifier')
    }
    const agent = this.#agents.get(id)
    if (agent === undefined) {
      // RAPID names the parsed value (agentID.String()), not the header's own text.
      return reject('Extension.UnknownExtensionIdentifier', unknownMessage ?? `Unknown extension ${id}`)
    }
    return agent
  }
}

function parseRegisterBody(body: Buffer): ReadonlySet<ExtensionEventType> | ApiRejection {
  let value: unknown
  try {
    value = JSON.parse(body.toString('utf8'))
  } catch (error) {
    return reject('InvalidRequestFormat', (error as Error).message)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return reject('InvalidRequestFormat', 'json: cannot unmarshal into Go value of type struct')
  }
  const record = value as Record<string, unknown>
  if ('configurationKeys' in record) {
    return reject('InvalidRequestFormat', 'configurationKeys are deprecated; use environment variables instead')
  }
  const events = record.events ?? []
  if (!Array.isArray(events) || !events.every((event) => typeof event === 'string')) {
    return reject('InvalidRequestFormat', 'json: cannot unmarshal events into Go struct field of type []string')
  }
  for (const event of events as string[]) {
    if (!(EXTENSION_EVENT_TYPES as readonly string[]).includes(event)) {
      return reject('Extension.InvalidEventType', `${event}: ErrorInvalidEventType`)
    }
  }
  return new Set(events as ExtensionEventType[])
}
