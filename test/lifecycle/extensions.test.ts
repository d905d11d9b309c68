// Registration rules and every (state, call) pair of the extension agent's state machine.
import t from 'tap'
import { ExtensionAgent, ExtensionRegistry, MAX_EXTENSIONS, parseUuid } from '../../harness/lifecycle/extensions.js'
import { http } from './rejections.js'

const body = (value: unknown) => Buffer.from(JSON.stringify(value))
const register = (registry: ExtensionRegistry, name: string | undefined, events: unknown = ['INVOKE', 'SHUTDOWN']) =>
  registry.register({ name, body: body({ events }), acceptFeatures: undefined })

t.test('an external registers under its file name', async (t) => {
  const registry = new ExtensionRegistry(['ext-a'])
  const agent = register(registry, 'ext-a')
  t.ok(agent instanceof ExtensionAgent)
  t.equal((agent as ExtensionAgent).external, true)
  t.equal((agent as ExtensionAgent).state, 'Registered')
  t.same(http(register(registry, 'ext-a')), {
    status: 403,
    errorType: 'Extension.InvalidExtensionState',
    errorMessage: 'State transition from Registered to Registered failed for extension ext-a. Error: State transition is not allowed',
  })
})

t.test('any other name is an internal extension, which may not take SHUTDOWN', async (t) => {
  const registry = new ExtensionRegistry(['ext-a'])
  t.same(http(register(registry, 'ext-a-typo')), {
    status: 403,
    errorType: 'Extension.InvalidEventType',
    errorMessage: 'SHUTDOWN: ShutdownEventNotSupportedForInternalExtension',
  })
  const internal = register(registry, 'ext-a-typo', ['INVOKE'])
  t.equal((internal as ExtensionAgent).external, false)
  t.equal(registry.internals.length, 1)
  t.same(http(register(registry, 'ext-a-typo', ['INVOKE'])), {
    status: 403,
    errorType: 'Extension.InvalidExtensionState',
    errorMessage: 'Extension with this name already registered',
  })
})

t.test('request checks, each with its 403 errorType', async (t) => {
  const registry = new ExtensionRegistry(['ext-a'])
  t.same(http(register(registry, '')), { status: 403, errorType: 'Extension.InvalidExtensionName', errorMessage: 'Empty extension name' })
  t.same(http(register(registry, undefined)), { status: 403, errorType: 'Extension.InvalidExtensionName', errorMessage: 'Empty extension name' })
  const empty = registry.register({ name: 'ext-a', body: Buffer.alloc(0), acceptFeatures: undefined })
  t.match(http(empty), { status: 403, errorType: 'InvalidRequestFormat' }, 'an empty body fails: clients must send {}')
  t.same(http(registry.register({ name: 'ext-a', body: body({ configurationKeys: ['x'] }), acceptFeatures: undefined })), {
    status: 403,
    errorType: 'InvalidRequestFormat',
    errorMessage: 'configurationKeys are deprecated; use environment variables instead',
  })
  t.same(http(register(registry, 'ext-a', ['INVOKE', 'BOGUS'])), { status: 403, errorType: 'Extension.InvalidEventType', errorMessage: 'BOGUS: ErrorInvalidEventType' })
  t.ok(register(registry, 'ext-a', []) instanceof ExtensionAgent, 'no events at all is allowed')
})

t.test('identify: missing, malformed and unknown identifiers', async (t) => {
  const registry = new ExtensionRegistry([])
  t.same(http(registry.identify(undefined)), { status: 403, errorType: 'Extension.MissingExtensionIdentifier', errorMessage: 'Missing Lambda-Extension-Identifier header' })
  t.same(http(registry.identify('nope')), { status: 403, errorType: 'Extension.InvalidExtensionIdentifier', errorMessage: 'Invalid Lambda-Extension-Identifier' })
  const id = '6f9619ff-8b86-d011-b42d-00c04fc964ff'
  t.same(http(registry.identify(id)), { status: 403, errorType: 'Extension.UnknownExtensionIdentifier', errorMessage: `Unknown extension ${id}` })
})

t.test('identify: every form RAPID\'s uuid.Parse takes finds the extension; near misses are invalid', async (t) => {
  const registry = new ExtensionRegistry(['ext-a'])
  const agent = register(registry, 'ext-a') as ExtensionAgent
  const id = agent.id
  const upper = id.toUpperCase()
  for (const form of [id, upper, id.replaceAll('-', ''), upper.replaceAll('-', ''), `{${id}}`, `{${upper}}`, `urn:uuid:${id}`, `URN:uuid:${upper}`]) {
    t.equal(registry.identify(form), agent, `${form} is ext-a`)
  }
  for (const form of [`${id}0`, id.slice(1), `[${id}]`, `{${id}`, `urn:uid:${id}`, `urn:uuid:${id.replaceAll('-', '')}`, `${id.replaceAll('-', '')}0`, `${id.slice(0, 35)}g`, ` ${id.replaceAll('-', '')}`]) {
    t.equal(parseUuid(form), undefined, `${JSON.stringify(form)} is not a UUID`)
    t.match(registry.identify(form), { errorType: 'Extension.InvalidExtensionIdentifier' })
  }
  // RAPID's message names the parsed value, in Go's lower-case text.
  const unknown = 'urn:uuid:6F9619FF-8B86-D011-B42D-00C04FC964FF'
  t.same(http(registry.identify(unknown)), { status: 403, errorType: 'Extension.UnknownExtensionIdentifier', errorMessage: 'Unknown extension 6f9619ff-8b86-d011-b42d-00c04fc964ff' })
})

t.test('registration closes at the runtime\'s first next (internals only)', async (t) => {
  const registry = new ExtensionRegistry([])
  registry.closeRegistration()
  t.same(http(register(registry, 'late', ['INVOKE'])), { status: 403, errorType: 'Extension.RegistrationClosed', errorMessage: 'Extension registration closed already' })
})

t.test('at most ten extensions, internal and external together', async (t) => {
  const files = Array.from({ length: MAX_EXTENSIONS - 1 }, (_, i) => `ext-${i}`)
  const registry = new ExtensionRegistry(files)
  t.ok(register(registry, 'internal-1', ['INVOKE']) instanceof ExtensionAgent)
  t.same(http(register(registry, 'internal-2', ['INVOKE'])), { status: 403, errorType: 'Extension.TooManyExtensions', errorMessage: 'Extension limit (10) reached' })
})

// Every (state, call) pair: drive an agent to each state, try each call.
type Call = 'register' | 'next' | 'initError' | 'exitError' | 'exit' | 'shutdownFailed' | 'launchError'
const ALLOWED: Record<string, Partial<Record<Call, string>>> = {
  Started: { register: 'Registered', launchError: 'LaunchError', exit: 'Exited', shutdownFailed: 'ShutdownFailed' },
  Registered: { next: 'Ready', initError: 'InitError', exitError: 'ExitError', exit: 'Exited', shutdownFailed: 'ShutdownFailed' },
  Ready: { exitError: 'ExitError', exit: 'Exited', shutdownFailed: 'ShutdownFailed' },
  Running: { next: 'Ready', exitError: 'ExitError', exit: 'Exited', shutdownFailed: 'ShutdownFailed' },
  InitError: { exit: 'Exited', shutdownFailed: 'ShutdownFailed' },
  ExitError: { exit: 'Exited', shutdownFailed: 'ShutdownFailed' },
  ShutdownFailed: {},
  Exited: {},
  LaunchError: {},
}

function agentIn(state: string): ExtensionAgent {
  const agent = new ExtensionAgent('ext-a', true)
  const path: Record<string, (a: ExtensionAgent) => void> = {
    Started: () => undefined,
    Registered: (a) => a.apply('register'),
    Ready: (a) => {
      a.apply('register')
      void a.next()
    },
    Running: (a) => {
      path.Ready!(a)
      void a.deliver({ eventType: 'SHUTDOWN', shutdownReason: 'spindown', deadlineMs: 0 })
    },
    InitError: (a) => {
      a.apply('register')
      a.apply('initError')
    },
    ExitError: (a) => {
      a.apply('register')
      a.apply('exitError')
    },
    ShutdownFailed: (a) => a.apply('shutdownFailed'),
    Exited: (a) => a.apply('exit'),
    LaunchError: (a) => a.apply('launchError'),
  }
  path[state]!(agent)
  return agent
}

for (const [state, allowed] of Object.entries(ALLOWED)) {
  for (const call of ['register', 'next', 'initError', 'exitError', 'exit', 'shutdownFailed', 'launchError'] as Call[]) {
    t.test(`extension ${state} + ${call}`, async (t) => {
      const agent = agentIn(state)
      t.equal(agent.state, state)
      const target = allowed[call]
      if (call === 'next') {
        const result = agent.next()
        if (target === undefined) {
          t.match(http(result), { status: 403, errorType: 'Extension.InvalidExtensionState' })
          t.equal(agent.state, state, 'state unchanged')
        } else {
          t.ok(result instanceof Promise)
          t.equal(agent.state, target)
        }
        return
      }
      if (target === undefined) {
        t.throws(() => agent.apply(call), { code: 'ERR_INVALID_TRANSITION' })
        t.equal(agent.state, state, 'state unchanged')
      } else {
        agent.apply(call)
        t.equal(agent.state, target)
      }
    })
  }
}

t.test('an event queued before next is handed over at next', async (t) => {
  const agent = agentIn('Registered')
  const done = agent.deliver({ eventType: 'SHUTDOWN', shutdownReason: 'timeout', deadlineMs: 1 })
  const next = agent.next()
  t.same(await (next as Promise<unknown>), { eventType: 'SHUTDOWN', shutdownReason: 'timeout', deadlineMs: 1 })
  t.equal(agent.state, 'Running')
  void agent.next()
  await done
})
