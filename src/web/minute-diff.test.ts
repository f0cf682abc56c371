import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { emptyCounts } from '../aggregate/counts.js';
import { MinuteDiff } from './minute-diff.js';

const cell = (ad: number, minute: number, clicks: number, impressions = 0) => ({
  ad,
  minute,
  counts: { ...emptyCounts(), clicks, impressions },
});

describe('MinuteDiff', () => {
  it('primes on the first read, then gives what each read added, cell by cell', () => {
    const diff = new MinuteDiff();
    assert.deepEqual(diff.update([cell(1, 100, 5)], 100), []);
    assert.deepEqual(diff.update([cell(1, 100, 7), cell(2, 100, 0, 3)], 100), [
      cell(1, 100, 2),
      cell(2, 100, 0, 3),
    ]);
    assert.deepEqual(diff.update([cell(1, 100, 7), cell(2, 100, 0, 3)], 100), []);
  });

  it('forgets cells that leave the window, and counts a vanished cell in it as going to zero', () => {
    const diff = new MinuteDiff();
    diff.update([cell(1, 100, 5), cell(1, 101, 1)], 100);
    // Minute 100 left the window (it is final now): no change reported for it.
    assert.deepEqual(diff.update([cell(1, 101, 1)], 101), []);
    // Minute 101 was replaced by nothing (reconciliation): a negative delta.
    assert.deepEqual(diff.update([], 101), [cell(1, 101, -1)]);
  });

  it('takes the cells of a newly watched ad for baseline, not for a change', () => {
    const diff = new MinuteDiff();
    diff.update([cell(1, 100, 5)], 100);
    // Ad 2's advertiser started watching: its 40 clicks were there before, they are no change.
    const isNew = (ad: number) => ad === 2;
    assert.deepEqual(diff.update([cell(1, 100, 6), cell(2, 100, 40)], 100, isNew), [cell(1, 100, 1)]);
    assert.deepEqual(diff.update([cell(1, 100, 6), cell(2, 100, 41)], 100), [cell(2, 100, 1)]);
  });

  it('primes again after a reset', () => {
    const diff = new MinuteDiff();
    diff.update([cell(1, 100, 5)], 100);
    diff.reset();
    assert.deepEqual(diff.update([cell(1, 100, 9)], 100), []);
  });
});
