import assert from 'node:assert/strict';
import { it } from 'node:test';
import { LogClosedError, LogPoisonedError, LogWriteError } from '../log/log-errors.js';
import { failureResponse } from './failure.js';
import { ClientClosedError, HttpError } from './http-io.js';

it('answers 503 with Retry-After for every event log fault, retriable or not', () => {
  for (const err of [
    new LogWriteError('EIO'),
    new LogPoisonedError('poisoned'),
    new LogClosedError('closing'),
  ]) {
    const { error, logged } = failureResponse(err);
    assert.equal(error.status, 503, err.name);
    assert.equal(error.headers['retry-after'], '1');
    assert.equal(logged, false);
  }
});

it('keeps a route error as it is and turns anything else into a logged 500', () => {
  const notFound = new HttpError(404, 'not_found', 'x');
  assert.equal(failureResponse(notFound).error, notFound);
  const bug = failureResponse(new TypeError('oops'));
  assert.equal(bug.error.status, 500);
  assert.equal(bug.logged, true);
});

it('answers a client that closed mid-request as 499, not as a logged server error', () => {
  const { error, logged } = failureResponse(new ClientClosedError());
  assert.equal(error.status, 499);
  assert.equal(logged, false);
});
