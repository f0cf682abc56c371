import { LogError } from '../log/log-errors.js';
import { ClientClosedError, HttpError } from './http-io.js';

/**
 * The answer for an error a route threw. Route errors carry their own status.
 * Any fault of the event log (a failed write or fsync, a log poisoned by an
 * earlier one, a log closing) means the event was not made durable: 503 with
 * Retry-After, never a success and never a bare 500. A client that went away
 * mid-request is 499 (nginx's "client closed request"): nothing is sent, the
 * status is what the request is counted as, and it is not our fault. Anything
 * else is a bug: 500, with `logged` telling the caller to report it.
 */
export function failureResponse(err: unknown): { error: HttpError; logged: boolean } {
  if (err instanceof HttpError) return { error: err, logged: false };
  if (err instanceof ClientClosedError) {
    return { error: new HttpError(499, 'client_closed_request', err.message), logged: false };
  }
  if (err instanceof LogError) {
    const error = new HttpError(503, 'unavailable', 'event could not be made durable; retry', {
      'retry-after': '1',
    });
    return { error, logged: false };
  }
  return { error: new HttpError(500, 'internal', 'internal error'), logged: true };
}
