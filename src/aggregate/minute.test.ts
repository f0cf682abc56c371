import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MINUTE_MS, minuteOf, minuteStartMs } from './minute.js';

describe('minute windowing', () => {
  const T = Date.UTC(2026, 10, 23, 10, 14, 0);

  it('puts 59,999 ms in the first minute and 60,000 ms in the next', () => {
    assert.equal(MINUTE_MS, 60_000);
    assert.equal(minuteOf(0), 0);
    assert.equal(minuteOf(59_999), 0);
    assert.equal(minuteOf(60_000), 1);
    assert.equal(minuteOf(T + 59_999), minuteOf(T));
    assert.equal(minuteOf(T + 60_000), minuteOf(T) + 1);
  });

  it('maps a minute back to its first millisecond', () => {
    assert.equal(minuteStartMs(minuteOf(T + 59_999)), T);
    assert.equal(new Date(minuteStartMs(minuteOf(T + 1))).toISOString(), '2026-11-23T10:14:00.000Z');
  });

  it('floors instants before the epoch', () => {
    assert.equal(minuteOf(-1), -1);
    assert.equal(minuteStartMs(-1), -60_000);
  });
});
