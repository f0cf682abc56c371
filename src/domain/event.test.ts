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

  it('writes the layout byte for byte: header fields, ip hash, imp truncated to 64 latin1 bytes', () => {
    const imp = `${'x'.repeat(60)}é\u0101yz`; // 'é' is one latin1 byte; U+0101 keeps its low byte, as latin1 does
    const bytes = encodeEvent({ ...event, imp: `${imp}dropped` });
    const expected = Buffer.alloc(44 + 64);
    expected.writeUInt8(1, 0);
    expected.writeUInt8(1, 1); // click
    expected.writeUInt8(2, 2); // expired
    expected.writeUInt8(1, 3); // bot
    expected.writeUInt8(1, 4); // head
    expected.writeUInt8(64, 5);
    expected.writeUInt32LE(event.ad, 8);
    expected.writeDoubleLE(event.tokenTs, 12);
    expected.writeDoubleLE(event.eventTime, 20);
    expected.writeDoubleLE(event.receivedAt, 28);
    event.ipHash.copy(expected, 36);
    expected.write(`${imp}dropped`, 44, 64, 'latin1');
    assert.deepEqual(bytes, expected);
  });

  it('refuses to encode values outside the tables, or an ip hash of another size', () => {
    assert.throws(() => encodeEvent({ ...event, outcome: 'nope' as TrackedEvent['outcome'] }), RangeError);
    assert.throws(() => encodeEvent({ ...event, type: 'toString' as TrackedEvent['type'] }), RangeError);
    assert.throws(() => encodeEvent({ ...event, ipHash: Buffer.alloc(7) }), RangeError);
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
