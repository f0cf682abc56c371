import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../domain/seeded-random.js';
import { DENSE_HOUR_VALUES, addPackedInto, packHour, unpackHour } from './packed-hour.js';
import { COUNTERS, SeriesSums } from './series-sums.js';

const HOUR_START = 29_924_580;
const unpackAll = (packed: Uint8Array): Float64Array => unpackHour(packed, 0, packed.length);

function denseOf(cells: readonly [offset: number, field: number, value: number][]): Float64Array {
  const dense = new Float64Array(DENSE_HOUR_VALUES);
  for (const [offset, field, value] of cells) dense[offset * COUNTERS + field] = value;
  return dense;
}

describe('packHour', () => {
  // [what, cells, packed length]
  const CASES: [string, [number, number, number][], number][] = [
    ['an empty hour is empty', [], 0],
    ['one small count: offset, mask, value', [[0, 0, 1]], 3],
    [
      'impressions and clicks of one minute share a mask',
      [
        [59, 0, 27],
        [59, 1, 1],
      ],
      4,
    ],
    ['a value of 128 takes two bytes', [[7, 1, 128]], 4],
    ['the last counter needs a two-byte mask', [[3, COUNTERS - 1, 5]], 4],
    ['the largest Uint32 takes five bytes', [[30, 0, 0xffff_ffff]], 7],
    ['2^52 round-trips (arithmetic LEB128, not 32-bit shifts)', [[1, 2, 2 ** 52]], 10],
  ];
  for (const [what, cells, length] of CASES) {
    it(what, () => {
      const dense = denseOf(cells);
      const packed = packHour(dense);
      assert.equal(packed.length, length);
      assert.deepEqual(unpackAll(packed), dense);
    });
  }

  it('round-trips random hours, dense and sparse', () => {
    const random = seededRandom(11);
    for (let round = 0; round < 200; round++) {
      const dense = new Float64Array(DENSE_HOUR_VALUES);
      const density = random();
      for (let i = 0; i < dense.length; i++) {
        if (random() < density) dense[i] = Math.floor(random() * (random() < 0.1 ? 2 ** 32 : 300));
      }
      assert.deepEqual(unpackAll(packHour(dense)), dense, `round ${round}`);
    }
  });

  it('packs a slice of a larger array (one slot of an open hour)', () => {
    const big = new Float64Array(3 * DENSE_HOUR_VALUES);
    big[DENSE_HOUR_VALUES + 5 * COUNTERS + 1] = 9;
    assert.deepEqual(unpackAll(packHour(big, DENSE_HOUR_VALUES)), denseOf([[5, 1, 9]]));
  });
});

describe('addPackedInto', () => {
  it('adds the cells that fall in the query range into their buckets', () => {
    const packed = packHour(
      denseOf([
        [0, 0, 1],
        [10, 0, 2],
        [20, 1, 3],
        [59, 0, 4],
      ]),
    );
    const sums = new SeriesSums().reset(HOUR_START + 10, HOUR_START + 59, 60);
    addPackedInto(packed, 0, packed.length, HOUR_START, sums);
    const rows = sums.rows();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.minute, HOUR_START); // the hour bucket, aligned like `minute // 60 * 60`
    assert.equal(rows[0]!.counts.impressions, 2);
    assert.equal(rows[0]!.counts.clicks, 3);
  });
});
