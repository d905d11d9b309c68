// The HTTP status of each refusal, by Lambda's error type (RAPID rest handlers; LAMBDA-SPEC §2, §4):
// the lifecycle answers in error types only.
import type { ApiRejection } from '../lifecycle/error-types.js'

const STATUS_BY_ERROR_TYPE: Readonly<Record<string, number>> = {
  InvalidRequestID: 400,
  TruncatedHTTPRequest: 400,
  InvalidFunctionResponseMode: 400,
  ValidationError: 400,
  'Logs.ValidationError': 400,
  RequestEntityTooLarge: 413,
  InternalServerError: 500,
}

/** 403 for the rest: refused transitions, Extension.*, InvalidRequestFormat, *.SubscriptionClosed. */
export function statusOf(rejection: ApiRejection): number {
  return STATUS_BY_ERROR_TYPE[rejection.errorType] ?? 403
}
