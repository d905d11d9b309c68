// Extensions API 2020-01-01 (LAMBDA-SPEC §2). RAPID answers every client error here with 403.
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { isRejection, reject } from '../lifecycle/error-types.js'
import { statusOf } from './statuses.js'
import type { ExtensionAgent } from '../lifecycle/extensions.js'
import { answerAfterBody, header, readBody } from './body.js'
import type { PlatformPort } from './port.js'
import { sendAccepted, sendJson, sendMethodNotAllowed, sendNotFound, sendRejection } from './render.js'

/** Register bodies are tiny JSON documents; anything bigger is not a registration. */
const MAX_REGISTER_BYTES = 64 * 1024

export interface ExtensionsOutcome {
  status: number
  errorType?: string
  caller?: string
}

const ROUTES: Record<string, string> = {
  '/extension/register': 'POST',
  '/extension/event/next': 'GET',
  '/extension/init/error': 'POST',
  '/extension/exit/error': 'POST',
}

export async function handleExtensions(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  port: PlatformPort,
): Promise<ExtensionsOutcome> {
  const allowed = ROUTES[path]
  if (allowed === undefined) {
    await answerAfterBody(req, () => sendNotFound(res))
    return { status: 404 }
  }
  if (req.method !== allowed) {
    await answerAfterBody(req, () => sendMethodNotAllowed(res, allowed))
    return { status: 405 }
  }
  const fail = (rejection: Rejection, caller?: string): ExtensionsOutcome => {
    sendRejection(res, rejection)
    return { status: statusOf(rejection), errorType: rejection.errorType, caller }
  }
  if (path === '/extension/register') {
    return register(req, res, port, fail)
  }
  const isErrorReport = path !== '/extension/event/next'
  const agent = port.extensions.identify(header(req, 'lambda-extension-identifier'), isErrorReport ? 'Unknown Lambda-Extension-Identifier' : undefined)
  if (isRejection(agent)) {
    // A report is answered after its body, as in reportError.
    return isErrorReport ? answerAfterBody(req, () => fail(agent)) : fail(agent)
  }
  if (!isErrorReport) {
    return nextEvent(res, agent, port, fail)
  }
  return reportError(req, res, path === '/extension/init/error' ? 'initError' : 'exitError', agent, port, fail)
}

type Rejection = ReturnType<typeof reject>
type Fail = (rejection: Rejection, caller?: string) => ExtensionsOutcome

async function register(req: IncomingMessage, res: ServerResponse, port: PlatformPort, fail: Fail): Promise<ExtensionsOutcome> {
  const name = header(req, 'lambda-extension-name')
  const body = await readBody(req, MAX_REGISTER_BYTES)
  if (body.kind !== 'complete') {
    return fail(reject('InvalidRequestFormat', body.kind === 'tooLarge' ? 'request body too large' : 'unexpected EOF'), name)
  }
  const result = port.extensions.register({ name, body: body.body, acceptFeatures: header(req, 'lambda-extension-accept-feature') })
  if (isRejection(result)) {
    return fail(result, name)
  }
  port.registered(result)
  const info = port.functionInfo
  const features = (header(req, 'lambda-extension-accept-feature') ?? '').split(',').map((f) => f.trim())
  sendJson(
    res,
    200,
    {
      functionName: info.functionName,
      functionVersion: info.functionVersion,
      handler: info.handler,
      ...(features.includes('accountId') ? { accountId: info.accountId } : {}),
    },
    { 'Lambda-Extension-Identifier': result.id },
  )
  return { status: 200, caller: result.name }
}

async function nextEvent(res: ServerResponse, agent: ExtensionAgent, port: PlatformPort, fail: Fail): Promise<ExtensionsOutcome> {
  const next = agent.next()
  if (!(next instanceof Promise)) {
    return fail(next, agent.name)
  }
  const event = await next
  port.delivered(agent.name, event)
  sendJson(res, 200, event, { 'Lambda-Extension-Event-Identifier': randomUUID() })
  return { status: 200, caller: agent.name }
}

async function reportError(
  req: IncomingMessage,
  res: ServerResponse,
  call: 'initError' | 'exitError',
  agent: ExtensionAgent,
  port: PlatformPort,
  fail: Fail,
): Promise<ExtensionsOutcome> {
  // RAPID acts on the headers and never reads the body (Go's server discards what is left after
  // the answer): the report takes effect now, even while a slow body is still arriving. The
  // answer waits for the body (2 s at most, as every early answer here), so a client still
  // sending it does not lose the answer to a reset.
  const errorType = header(req, 'lambda-extension-function-error-type')
  let answer: () => ExtensionsOutcome
  if (errorType === undefined) {
    answer = () => fail(reject('Extension.MissingHeader', 'Lambda-Extension-Function-Error-Type not found'), agent.name)
  } else if (!agent.can(call)) {
    const refusal = agent.refusal(call)
    answer = () => fail(refusal, agent.name)
  } else {
    agent.apply(call)
    agent.reportedError = errorType
    port.extensionError(agent, call === 'initError' ? 'Extension.InitError' : 'Extension.ExitError', errorType)
    answer = () => {
      sendAccepted(res)
      return { status: 202, caller: agent.name }
    }
  }
  return answerAfterBody(req, answer)
}
