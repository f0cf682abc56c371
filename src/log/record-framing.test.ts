import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeFrame,
  encodeFrame,
  FRAME_HEADER_BYTES,
  MAX_RECORD_BYTES,
  writeFrame,
} from './record-framing.js';

const payload = Buffer.from('{"ad":42,"imp":"abcdefgh","ts":1700000000}');

function flipBit(buffer: Buffer, bit: number): Buffer {
  const copy = Buffer.from(buffer);
  copy[bit >> 3]! ^= 1 << (bit & 7);
  return copy;
}

void test('a frame round-trips', () => {
  const frame = encodeFrame(payload);
  assert.equal(frame.length, FRAME_HEADER_BYTES + payload.length);
  const decoded = decodeFrame(frame, 0);
  assert.equal(decoded.kind, 'record');
  assert.ok(decoded.kind === 'record');
  assert.deepEqual(decoded.payload, payload);
  assert.equal(decoded.frameBytes, frame.length);
});

/** Decodes frame after frame from the start: the records' positions and payloads, and where it stopped. */
function scan(source: Buffer): {
  records: { position: number; payload: Buffer }[];
  end: number;
  stop: string;
} {
  const records: { position: number; payload: Buffer }[] = [];
  let at = 0;
  for (;;) {
    const frame = decodeFrame(source, at);
    if (frame.kind !== 'record') return { records, end: at, stop: frame.kind };
    records.push({ position: at, payload: frame.payload });
    at += frame.frameBytes;
  }
}

void test('writeFrame builds consecutive frames in one buffer that decodeFrame reads back', () => {
  const payloads = [Buffer.from('a'), payload, Buffer.alloc(1000, 7)];
  const target = Buffer.alloc(payloads.reduce((n, p) => n + FRAME_HEADER_BYTES + p.length, 0));
  let position = 0;
  for (const p of payloads) position += writeFrame(target, position, p);
  const found = scan(target);
  assert.equal(found.stop, 'incomplete');
  assert.equal(found.end, target.length);
  assert.deepEqual(
    found.records.map((r) => r.payload),
    payloads,
  );
  assert.deepEqual(
    found.records.map((r) => r.position),
    [0, 9, 9 + FRAME_HEADER_BYTES + payload.length],
  );
});

void test('the CRC catches every single flipped bit in the payload', () => {
  const frame = encodeFrame(payload);
  for (let bit = FRAME_HEADER_BYTES * 8; bit < frame.length * 8; bit++) {
    assert.deepEqual(decodeFrame(flipBit(frame, bit), 0), { kind: 'corrupt', reason: 'CRC mismatch' });
  }
});

void test('the CRC catches every flipped bit in the stored checksum', () => {
  const frame = encodeFrame(payload);
  for (let bit = 32; bit < 64; bit++) {
    assert.equal(decodeFrame(flipBit(frame, bit), 0).kind, 'corrupt');
  }
});

void test('a flipped bit in the length never yields a record, even with more frames after it', () => {
  const frames = Buffer.concat([encodeFrame(payload), encodeFrame(Buffer.alloc(500, 1))]);
  for (let bit = 0; bit < 32; bit++) {
    const kind = decodeFrame(flipBit(frames, bit), 0).kind;
    assert.notEqual(kind, 'record', `bit ${bit}`);
  }
});

void test('a truncated frame is incomplete, with its size once the header is whole', () => {
  const frame = encodeFrame(payload);
  for (let cut = 0; cut < FRAME_HEADER_BYTES; cut++) {
    assert.deepEqual(decodeFrame(frame.subarray(0, cut), 0), { kind: 'incomplete', frameBytes: undefined });
  }
  for (let cut = FRAME_HEADER_BYTES; cut < frame.length; cut++) {
    assert.deepEqual(decodeFrame(frame.subarray(0, cut), 0), {
      kind: 'incomplete',
      frameBytes: frame.length,
    });
  }
});

void test('an oversize or zero length is corrupt, not incomplete', () => {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUInt32LE(MAX_RECORD_BYTES + 1, 0);
  assert.equal(decodeFrame(header, 0).kind, 'corrupt');
  assert.equal(decodeFrame(Buffer.alloc(64), 0).kind, 'corrupt'); // zero-filled garbage
});

void test('encodeFrame refuses payloads it could not decode', () => {
  assert.throws(() => encodeFrame(Buffer.alloc(0)), RangeError);
  assert.throws(() => encodeFrame(Buffer.alloc(MAX_RECORD_BYTES + 1)), RangeError);
  assert.equal(decodeFrame(encodeFrame(Buffer.alloc(MAX_RECORD_BYTES)), 0).kind, 'record');
});

void test('decoding stops at garbage after valid frames, at the right place', () => {
  const good = Buffer.concat([encodeFrame(payload), encodeFrame(payload)]);
  const found = scan(Buffer.concat([good, Buffer.from([1, 0, 0, 0, 9, 9, 9, 9, 0x41])]));
  assert.equal(found.records.length, 2);
  assert.equal(found.end, good.length);
  assert.equal(found.stop, 'corrupt');
});
