import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import { minuteOf } from './minute.js';
import { Watermark } from './watermark.js';

const T = Date.UTC(2026, 10, 23, 10, 14, 0);
const LATENESS = 5_000;

describe('Watermark', () => {
  it('is undefined, never late and never final before any event', () => {
    const w = new Watermark({ allowedLatenessMs: LATENESS });
    assert.equal(w.maxEventTime(), undefined);
    assert.equal(w.value(), undefined);
    assert.equal(w.isLate(0), false);
    assert.equal(w.isFinal(minuteOf(0)), false);
  });

  it('is the largest event time minus the lateness, and never goes back', () => {
    const w = new Watermark({ allowedLatenessMs: LATENESS });
    const seen: number[] = [];
    for (const t of [T + 10_000, T + 3_000, T + 12_000, T + 11_999, T, T + 12_000]) {
      w.observe(t);
      seen.push(w.value() ?? NaN);
    }
    assert.deepEqual(
      seen.map((v) => v - T),
      [5_000, 5_000, 7_000, 7_000, 7_000, 7_000],
    );
    assert.equal(w.maxEventTime(), T + 12_000);
  });

  it('makes a minute final exactly when an event at its end plus the lateness is seen', () => {
    const w = new Watermark({ allowedLatenessMs: LATENESS });
    const m = minuteOf(T);
    w.observe(T + 60_000 + LATENESS - 1);
    assert.equal(w.isFinal(m), false);
    w.observe(T + 60_000 + LATENESS);
    assert.equal(w.isFinal(m), true);
    assert.equal(w.isFinal(m - 1), true);
    assert.equal(w.isFinal(m + 1), false);
    w.observe(T);
    assert.equal(w.isFinal(m), true, 'an older event does not reopen a minute');
  });

  it('with no lateness, a minute is final once its end is seen', () => {
    const w = new Watermark({ allowedLatenessMs: 0 });
    w.observe(T + 59_999);
    assert.equal(w.isFinal(minuteOf(T)), false);
    w.observe(T + 60_000);
    assert.equal(w.isFinal(minuteOf(T)), true);
  });

  it('calls an event late only when it is strictly behind the watermark', () => {
    const w = new Watermark({ allowedLatenessMs: LATENESS });
    w.observe(T + 10_000);
    assert.equal(w.isLate(T + 5_000), false);
    assert.equal(w.isLate(T + 4_999), true);
    assert.equal(w.isLate(T + 20_000), false);
  });

  it('restores from a persisted maximum', () => {
    const w = new Watermark({ allowedLatenessMs: LATENESS, maxEventTime: T + 65_000 });
    assert.equal(w.value(), T + 60_000);
    assert.equal(w.isFinal(minuteOf(T)), true);
    w.observe(T);
    assert.equal(w.maxEventTime(), T + 65_000);
  });

  it('refuses a negative or non-finite lateness and a non-finite maximum', () => {
    assert.throws(() => new Watermark({ allowedLatenessMs: -1 }), RangeError);
    assert.throws(() => new Watermark({ allowedLatenessMs: NaN }), RangeError);
    assert.throws(() => new Watermark({ allowedLatenessMs: 0, maxEventTime: Infinity }), RangeError);
  });
});

test('a hold keeps the watermark, lateness and finality behind events still on their way', () => {
  const w = new Watermark({ allowedLatenessMs: 5_000 });
  const minute0End = 60_000;
  w.observe(minute0End + 30_000);
  assert.equal(w.isFinal(0), true);
  // A collector still holds spilled events from 20 s into minute 0.
  w.hold(20_000);
  assert.equal(w.value(), 15_000);
  assert.equal(w.isFinal(0), false);
  assert.equal(w.isLate(20_000), false);
  assert.equal(w.isLate(14_000), true);
  assert.equal(w.maxEventTime(), minute0End + 30_000, 'the persisted maximum is untouched');
  w.hold(undefined);
  assert.equal(w.isFinal(0), true);
});
