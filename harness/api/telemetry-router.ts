// Telemetry API 2022-07-01 (PUT /telemetry) and Logs API 2020-08-15 (PUT /logs), LAMBDA-SPEC §4:
// identify the extension as the Extensions API does, hand the body to the telemetry side, answer
// 200 "OK" or the rejection.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { isRejection, reject } from '../lifecycle/error-types.js'
import { statusOf } from './statuses.js'
import { answerAfterBody, header, readBody } from './body.js'
import type { PlatformPort } from './port.js'
import { sendMethodNotAllowed, sendNotFound, sendRejection } from './render.js'

/** Subscribe bodies are small JSON documents (RIE LMI reads at most 1 MiB). */
const MAX_SUBSCRIBE_BYTES = 1024 * 1024

export interface TelemetryOutcome {
  status: number
  errorType?: string
  caller?: string
}


export async function handleTelemetry(
  req: IncomingMessage,
  res: ServerResponse,
  api: 'telemetry' | 'logs',
  path: string,
  port: PlatformPort,
): Promise<TelemetryOutcome> {
  // The docs' own Logs API example writes the path with a trailing slash.
  const route = api === 'telemetry' ? '/telemetry' : '/logs'
  if (path !== route && path !== `${route}/`) {
    await answerAfterBody(req, () => sendNotFound(res))
    return { status: 404 }
  }
  if (req.method !== 'PUT') {
    await answerAfterBody(req, () => sendMethodNotAllowed(res, 'PUT'))
    return { status: 405 }
  }
  const agent = port.extensions.identify(header(req, 'lambda-extension-identifier'))
  // The body is read (and past the limit only counted) even when the identifier is refused: an
  // answer sent before a slow body has arrived is lost when the connection then closes under it.
  const body = await readBody(req, MAX_SUBSCRIBE_BYTES)
  if (isRejection(agent)) {
    sendRejection(res, agent)
    return { status: statusOf(agent), errorType: agent.errorType }
  }
  if (body.kind === 'truncated') {
    return { status: 0, caller: agent.name }
  }
  const rejection =
    body.kind === 'tooLarge'
      ? reject(api === 'telemetry' ? 'ValidationError' : 'Logs.ValidationError', `request body is larger than ${MAX_SUBSCRIBE_BYTES} bytes`)
      : port.telemetry.subscribe(api, agent, body.body)
  if (rejection !== undefined) {
    sendRejection(res, rejection)
    return { status: statusOf(rejection), errorType: rejection.errorType, caller: agent.name }
  }
  // A JSON string, written as RIE LMI writes it (no trailing newline).
  const ok = '"OK"'
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(ok) })
  res.end(ok)
  return { status: 200, caller: agent.name }
}
