// Runtime API 2018-06-01 (LAMBDA-SPEC §1): HTTP in, RuntimeAgent calls, HTTP out.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { MAX_RESPONSE_BYTES } from '../lifecycle/runtime.js'
import { reject, type ApiRejection } from '../lifecycle/error-types.js'
import { statusOf } from './statuses.js'
import type { InvokeEvent } from '../lifecycle/events.js'
import { answerAfterBody, header, readBody } from './body.js'
import type { PlatformPort } from './port.js'
import { sendAccepted, sendMethodNotAllowed, sendNotFound, sendRejection } from './render.js'

const INVOCATION = /^\/runtime\/invocation\/([^/]+)\/(response|error)$/

type Outcome = { status: number; errorType?: string }
const ACCEPTED: Outcome = { status: 202 }

function answer(res: ServerResponse, rejection: ApiRejection | undefined): Outcome {
  if (rejection === undefined) {
    sendAccepted(res)
    return ACCEPTED
  }
  sendRejection(res, rejection)
  return { status: statusOf(rejection), errorType: rejection.errorType }
}

function setIfPresent(headers: Record<string, string>, name: string, value: string | undefined): void {
  if (value !== undefined && value !== '') {
    headers[name] = value
  }
}

function renderInvoke(res: ServerResponse, event: InvokeEvent): void {
  if (res.writableEnded || res.destroyed) {
    return
  }
  // RAPID sets each header only when its value is non-empty (rendering.renderInvokeHeaders).
  const headers: Record<string, string> = {
    'Lambda-Runtime-Aws-Request-Id': event.requestId,
    'Lambda-Runtime-Deadline-Ms': String(event.deadlineMs),
    'Lambda-Runtime-Invoked-Function-Arn': event.invokedFunctionArn,
    'Content-Type': event.contentType,
    'Content-Length': String(event.payload.length),
  }
  setIfPresent(headers, 'Lambda-Runtime-Trace-Id', event.traceId)
  setIfPresent(headers, 'Lambda-Runtime-Client-Context', event.clientContext)
  setIfPresent(headers, 'Lambda-Runtime-Cognito-Identity', event.cognitoIdentity)
  setIfPresent(headers, 'Lambda-Runtime-Aws-Tenant-Id', event.tenantId)
  res.writeHead(200, headers)
  res.end(event.payload)
}

const TRUNCATED = reject('TruncatedHTTPRequest', 'HTTP request detected as truncated')

export async function handleRuntime(req: IncomingMessage, res: ServerResponse, path: string, port: PlatformPort): Promise<Outcome> {
  const method = req.method ?? 'GET'
  if (path === '/runtime/invocation/next') {
    if (method !== 'GET') {
      await answerAfterBody(req, () => sendMethodNotAllowed(res, 'GET'))
      return { status: 405 }
    }
    const runtime = port.runtime
    const next = runtime.next()
    if (!(next instanceof Promise)) {
      return answer(res, next)
    }
    const event = await next
    port.delivered('runtime', event)
    renderInvoke(res, event)
    return { status: 200 }
  }

  const invocation = INVOCATION.exec(path)
  if (invocation !== null || path === '/runtime/init/error') {
    if (method !== 'POST') {
      await answerAfterBody(req, () => sendMethodNotAllowed(res, 'POST'))
      return { status: 405 }
    }
    // The agent is the one of this request's generation, even if a reset replaces it meanwhile.
    const runtime = port.runtime
    const body = await readBody(req, MAX_RESPONSE_BYTES)
    if (body.kind === 'truncated') {
      return answer(res, TRUNCATED)
    }
    const contentType = header(req, 'content-type') ?? 'application/json'
    const errorType = header(req, 'lambda-runtime-function-error-type')
    if (invocation === null) {
      if (body.kind === 'tooLarge') {
        return answer(res, reject('RequestEntityTooLarge', `Exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`))
      }
      return answer(res, runtime.initError(body.body, isJson(body.body) ? 'application/json' : 'application/octet-stream', errorType))
    }
    const [, requestId = '', kind] = invocation
    // The id before the handler's own checks, as RAPID's middleware does (a bad id with a bad mode
    // or an oversized error is InvalidRequestID).
    const wrongId = runtime.requestIdProblem(requestId)
    if (wrongId !== undefined) {
      return answer(res, wrongId)
    }
    if (kind === 'response') {
      const mode = header(req, 'lambda-runtime-function-response-mode')
      if (mode !== undefined && mode !== 'streaming') {
        return answer(res, reject('InvalidFunctionResponseMode', 'Invalid function response mode'))
      }
      return answer(res, runtime.respond(requestId, body.kind === 'tooLarge' ? { tooLarge: body.size } : { payload: body.body, contentType }))
    }
    if (body.kind === 'tooLarge') {
      return answer(res, reject('RequestEntityTooLarge', `Exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`))
    }
    return answer(res, runtime.fail(requestId, body.body, contentType, errorType))
  }
  await answerAfterBody(req, () => sendNotFound(res))
  return { status: 404 }
}

function isJson(body: Buffer): boolean {
  try {
    JSON.parse(body.toString('utf8'))
    return true
  } catch {
    return false
  }
}
