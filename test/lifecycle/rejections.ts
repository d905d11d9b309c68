import { statusOf } from '../../harness/api/statuses.js'
import { isRejection } from '../../harness/lifecycle/error-types.js'

/** A refusal as the API answers it: with the HTTP status api/ gives its error type. */
export function http(result: unknown): unknown {
  return typeof result === 'object' && result !== null && isRejection(result) ? { status: statusOf(result), ...result } : result
}
