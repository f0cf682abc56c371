import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { emptyCounts, type BucketCounts } from '../../aggregate/counts.js';
import { seededRandom } from '../../domain/seeded-random.js';
import { OpenHour, type HourBlock } from './hour-blocks.js';
import { SeriesSums } from './series-sums.js';

const HOUR_START = 29_924_580;

const counts = (fields: Partial<BucketCounts>): BucketCounts => ({ ...emptyCounts(), ...fields });

/** Every minute of the hour for `ad`, as rows with a nonzero count. */
function minutesOf(block: HourBlock, ad: number) {
  const sums = new SeriesSums().reset(HOUR_START, HOUR_START + 60, 1);
  block.addInto(ad, HOUR_START, sums);
  return sums.rows();
}

describe('OpenHour and SealedHour', () => {
  it('add, replace, and read back the same after sealing', () => {
    const open = new OpenHour();
    open.change(7, 3, counts({ impressions: 2, clicks: 1 }), false);
    open.change(7, 3, counts({ impressions: 1, clickBot: 4 }), false);
    open.change(9, 59, counts({ impressionExpired: 1 }), false);
    open.change(9, 0, counts({ clicks: 5 }), false);
    open.change(9, 0, counts({ clicks: 2 }), true);
    const expected7 = [
      { minute: HOUR_START + 3, counts: counts({ impressions: 3, clicks: 1, clickBot: 4 }) },
    ];
    const expected9 = [
      { minute: HOUR_START, counts: counts({ clicks: 2 }) },
      { minute: HOUR_START + 59, counts: counts({ impressionExpired: 1 }) },
    ];
    assert.deepEqual(minutesOf(open, 7), expected7);
    assert.deepEqual(minutesOf(open, 9), expected9);
    const sealed = open.seal();
    assert.deepEqual(minutesOf(sealed, 7), expected7);
    assert.deepEqual(minutesOf(sealed, 9), expected9);
    assert.deepEqual(minutesOf(sealed, 8), []);
  });

  it('a sealed hour takes changes (a repair, a straggler), for ads it holds and new ones', () => {
    const open = new OpenHour();
    open.change(1, 10, counts({ impressions: 10, clicks: 2 }), false);
    const sealed = open.seal();
    sealed.change(1, 10, counts({ clicks: 1 }), false);
    sealed.change(1, 11, counts({ impressions: 1 }), false);
    sealed.change(2, 0, counts({ clicks: 3 }), false);
    sealed.change(1, 10, counts({ impressions: 9, clicks: 1 }), true);
    assert.deepEqual(minutesOf(sealed, 1), [
      { minute: HOUR_START + 10, counts: counts({ impressions: 9, clicks: 1 }) },
      { minute: HOUR_START + 11, counts: counts({ impressions: 1 }) },
    ]);
    assert.deepEqual(minutesOf(sealed, 2), [{ minute: HOUR_START, counts: counts({ clicks: 3 }) }]);
    const unsealed = sealed.unseal();
    for (const ad of [1, 2, 3]) assert.deepEqual(minutesOf(unsealed, ad), minutesOf(sealed, ad));
  });

  it('holds many ads across pages, in any order of arrival', () => {
    const random = seededRandom(5);
    const open = new OpenHour();
    const expected = new Map<number, number>();
    for (let i = 0; i < 5_000; i++) {
      const ad = 1 + Math.floor(random() * 700);
      open.change(ad, Math.floor(random() * 60), counts({ clicks: 1 }), false);
      expected.set(ad, (expected.get(ad) ?? 0) + 1);
    }
    assert.equal(open.adCount, expected.size);
    const sealed = open.seal();
    for (const [ad, clicks] of expected) {
      for (const block of [open, sealed]) {
        const total = minutesOf(block, ad).reduce((sum, row) => sum + row.counts.clicks, 0);
        assert.equal(total, clicks);
      }
    }
  });

  it('refuses a count that an Uint32 cell cannot hold, rather than wrap', () => {
    const open = new OpenHour();
    open.change(1, 0, counts({ clicks: 0xffff_ffff }), false);
    assert.throws(() => open.change(1, 0, counts({ clicks: 1 }), false), RangeError);
    assert.throws(() => open.change(1, 1, counts({ clicks: -1 }), false), RangeError);
    const sealed = open.seal();
    assert.throws(() => sealed.change(1, 0, counts({ clicks: 1 }), false), RangeError);
  });
});
