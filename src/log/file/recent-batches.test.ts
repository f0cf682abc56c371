import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeFrame } from '../record-framing.js';
import { RecentBatches } from './recent-batches.js';

const frames = (...texts: string[]): Buffer => Buffer.concat(texts.map((t) => encodeFrame(Buffer.from(t))));
const texts = (batch: { records: { payload: Buffer }[] }): string[] =>
  batch.records.map((r) => r.payload.toString());

describe('RecentBatches', () => {
  it('reads records across batches from any record boundary, within a byte budget', () => {
    const recent = new RecentBatches(1 << 20);
    recent.add(100, frames('aa', 'bbb'));
    recent.add(100 + 8 + 2 + 8 + 3, frames('c', 'dddd'));
    assert.deepEqual(texts(recent.read(100, 1 << 20)), ['aa', 'bbb', 'c', 'dddd']);
    const first = recent.read(100, 20);
    assert.deepEqual(texts(first), ['aa']);
    assert.equal(first.next, 110);
    assert.deepEqual(
      recent.read(110, 1 << 20).records.map((r) => [r.offset, r.payload.toString()]),
      [
        [110, 'bbb'],
        [121, 'c'],
        [130, 'dddd'],
      ],
    );
    assert.deepEqual(texts(recent.read(121, 1)), ['c'], 'at least one record');
    const atEnd = recent.read(142, 100);
    assert.deepEqual(atEnd, { records: [], next: 142 });
    assert.throws(() => recent.read(112, 100), /not a record boundary/);
  });

  it('keeps copies, not views of buffers the caller reuses', () => {
    const recent = new RecentBatches(1 << 20);
    const reused = frames('first');
    recent.add(0, reused);
    reused.fill(0);
    assert.deepEqual(texts(recent.read(0, 100)), ['first']);
  });

  it('drops the oldest batches past its limit, and starts over after a gap', () => {
    const recent = new RecentBatches(30);
    recent.add(0, frames('0123456789')); // 18 bytes
    recent.add(18, frames('0123456789'));
    assert.equal(recent.covers(0), false);
    assert.equal(recent.covers(18), true);
    assert.equal(recent.covers(36), true);
    assert.equal(recent.covers(37), false);
    recent.add(1000, frames('x'));
    assert.equal(recent.covers(18), false);
    assert.deepEqual(texts(recent.read(1000, 100)), ['x']);
    const off = new RecentBatches(0);
    off.add(0, frames('x'));
    assert.equal(off.covers(0), false);
  });
});
