// Every (state, call) pair of the runtime's state machine: allowed ones move, the rest are
// refused with RAPID's 403 body and leave the state as it was.
import t from 'tap'
import { RuntimeAgent, INVALID_REQUEST_ID, MAX_RESPONSE_BYTES } from '../../harness/lifecycle/runtime.js'
import type { InvokeEvent } from '../../harness/lifecycle/events.js'
import { http } from './rejections.js'

function event(requestId = 'req-1'): InvokeEvent {
  return {
    requestId,
    deadlineMs: Date.now() + 3000,
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:f',
    traceId: undefined,
    clientContext: undefined,
    cognitoIdentity: undefined,
    tenantId: undefined,
    contentType: 'application/json',
    payload: Buffer.from('{}'),
  }
}

/** Drives a fresh agent into each state. */
const reach: Record<string, () => RuntimeAgent> = {
  Started: () => new RuntimeAgent(),
  InitError: () => {
    const r = new RuntimeAgent()
    r.initError(Buffer.from('{}'), 'application/json', 'Runtime.ImportModuleError')
    return r
  },
  Ready: () => {
    const r = new RuntimeAgent()
    void r.next()
    return r
  },
  Running: () => {
    const r = reach.Ready!()
    r.deliver(event())
    return r
  },
  RuntimeResponseSentState: () => {
    const r = reach.Running!()
    r.respond('req-1', { payload: Buffer.from('1'), contentType: 'application/json' })
    return r
  },
  InvocationErrorResponse: () => {
    const r = reach.Running!()
    r.fail('req-1', Buffer.from('{}'), 'application/json', undefined)
    return r
  },
}

const calls = {
  next: (r: RuntimeAgent) => r.next(),
  response: (r: RuntimeAgent) => r.respond('req-1', { payload: Buffer.from('1'), contentType: 'application/json' }),
  error: (r: RuntimeAgent) => r.fail('req-1', Buffer.from('{}'), 'application/json', undefined),
  initError: (r: RuntimeAgent) => r.initError(Buffer.from('{}'), 'application/json', undefined),
}

const allowed: Record<string, Partial<Record<keyof typeof calls, string>>> = {
  Started: { next: 'Ready', initError: 'InitError' },
  InitError: {},
  Ready: {},
  Running: { next: 'Running', response: 'RuntimeResponseSentState', error: 'InvocationErrorResponse' },
  RuntimeResponseSentState: { next: 'Ready' },
  InvocationErrorResponse: { next: 'Ready' },
}

const TARGET: Record<keyof typeof calls, string> = {
  next: 'Ready',
  response: 'InvocationResponse',
  error: 'InvocationErrorResponse',
  initError: 'InitError',
}

for (const [state, make] of Object.entries(reach)) {
  for (const [call, run] of Object.entries(calls) as [keyof typeof calls, (r: RuntimeAgent) => unknown][]) {
    t.test(`${state} + ${call}`, async (t) => {
      const agent = make()
      t.equal(agent.state, state)
      const result = run(agent)
      const expected = allowed[state]?.[call]
      if (expected !== undefined) {
        t.notOk(result !== undefined && !(result instanceof Promise), 'accepted')
        t.equal(agent.state, expected)
        return
      }
      // Answers for an invoke that is not the current one are 400 before the state is looked at.
      const noCurrentInvoke = ['Started', 'InitError', 'Ready'].includes(state) && (call === 'response' || call === 'error')
      if (noCurrentInvoke) {
        t.same(result, INVALID_REQUEST_ID)
      } else {
        t.same(http(result), {
          status: 403,
          errorType: 'InvalidStateTransition',
          errorMessage: `State transition from ${state} to ${TARGET[call]} failed for runtime. Error: State transition is not allowed`,
        })
      }
      t.equal(agent.state, state, 'state unchanged')
    })
  }
}

t.test('a /next while the invoke runs re-renders the same invoke', async (t) => {
  const agent = reach.Running!()
  const again = agent.next()
  t.ok(again instanceof Promise)
  t.equal((await (again as Promise<InvokeEvent>)).requestId, 'req-1')
})

t.test('a stale request id is 400 even in the right state', async (t) => {
  const agent = reach.Running!()
  t.same(agent.respond('other', { payload: Buffer.from('1'), contentType: 'application/json' }), INVALID_REQUEST_ID)
  t.equal(agent.state, 'Running')
})

t.test('an oversized response is 413 and counts as the answer', async (t) => {
  const r = new RuntimeAgent()
  void r.next()
  const { answer } = r.deliver(event())
  const result = r.respond('req-1', { tooLarge: MAX_RESPONSE_BYTES + 1 })
  t.same(http(result), { status: 413, errorType: 'RequestEntityTooLarge', errorMessage: 'Exceeded maximum allowed payload size (6291556 bytes).' })
  t.equal(r.state, 'RuntimeResponseSentState')
  t.same(await answer, { kind: 'tooLarge', size: MAX_RESPONSE_BYTES + 1 })
})

t.test('after close, /next is never answered', async (t) => {
  const r = new RuntimeAgent()
  void r.next()
  r.close()
  t.equal(r.waiting, false)
})
