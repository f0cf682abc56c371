import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeEvent, encodeEvent, EventDecodeError, type TrackedEvent } from './event.js';

const event: TrackedEvent = {
  type: 'click',
  ad: 2_147_483_647,
  imp: 'imp_ABCdef-0123456789',
  tokenTs: 1_795_000_000,
  eventTime: 1_795_000_123_456,
  receivedAt: 1_795_000_123_999,
  outcome: 'expired',
  ipHash: Buffer.from('0102030405060708', 'hex'),
  userAgent: 'bot',
  source: 'head',
};

describe('event record codec', () => {
  it('round-trips every field', () => {
    assert.deepEqual({ ...decodeEvent(encodeEvent(event)), ipHash: event.ipHash }, event);
    assert.deepEqual(decodeEvent(encodeEvent(event)).ipHash, event.ipHash);
  });

  it('keeps an empty imp', () => {
    assert.equal(decodeEvent(encodeEvent({ ...event, imp: '' })).imp, '');
  });

  it('refuses truncated, versioned-ahead and inconsistent records', () => {
    const bytes = encodeEvent(event);
    assert.throws(() => decodeEvent(bytes.subarray(0, 20)), EventDecodeError);
    assert.throws(() => decodeEvent(bytes.subarray(0, bytes.length - 1)), EventDecodeError);
    const future = Buffer.from(bytes);
    future[0] = 9;
    assert.throws(() => decodeEvent(future), /version 9/);
    const badOutcome = Buffer.from(bytes);
    badOutcome[2] = 200;
    assert.throws(() => decodeEvent(badOutcome), /outcome/);
  });
});
