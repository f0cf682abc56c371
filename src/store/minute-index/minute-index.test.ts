import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COUNT_FIELDS, emptyCounts, isZeroCounts, type BucketCounts } from '../../aggregate/counts.js';
import { seededRandom } from '../../domain/seeded-random.js';
import type { MinuteDelta, SeriesRow } from '../aggregate-store.js';
import { OpenHour } from './hour-blocks.js';
import { MinuteIndex } from './minute-index.js';

const HOUR_MS = 3_600_000;
const H0 = 498_743; // an hour index: 2026-11-24T00:00Z and on
const WINDOW = 6;

/** The store's per-minute rows, as a plain map: the oracle the index must equal. */
class StoreModel {
  readonly cells = new Map<string, MinuteDelta>();
  apply(rows: readonly MinuteDelta[], replace: boolean): void {
    for (const row of rows) {
      const key = `${row.ad}:${row.minute}`;
      const counts = replace ? emptyCounts() : { ...(this.cells.get(key)?.counts ?? emptyCounts()) };
      for (const f of COUNT_FIELDS) counts[f] += row.counts[f];
      this.cells.set(key, { ad: row.ad, minute: row.minute, counts });
    }
  }
  /** What `series` must return: nonzero buckets in order. */
  series(ads: readonly number[], from: number, to: number, bucket: number): SeriesRow[] {
    const sums = new Map<number, BucketCounts>();
    for (const cell of this.cells.values()) {
      if (!ads.includes(cell.ad) || cell.minute < from || cell.minute >= to) continue;
      const b = Math.floor(cell.minute / bucket) * bucket;
      const into = sums.get(b) ?? emptyCounts();
      for (const f of COUNT_FIELDS) into[f] += cell.counts[f];
      sums.set(b, into);
    }
    return [...sums.entries()]
      .filter(([, c]) => !isZeroCounts(c))
      .sort(([a], [b]) => a - b)
      .map(([minute, counts]) => ({ minute, counts }));
  }
  hour(hour: number): OpenHour {
    const block = new OpenHour();
    for (const cell of this.cells.values()) {
      if (Math.floor(cell.minute / 60) === hour)
        block.change(cell.ad, cell.minute - hour * 60, cell.counts, false);
    }
    return block;
  }
}

function randomRows(random: () => number, count: number, firstHour: number, hours: number): MinuteDelta[] {
  const rows: MinuteDelta[] = [];
  for (let i = 0; i < count; i++) {
    const counts = emptyCounts();
    counts.impressions = Math.floor(random() * 5);
    counts.clicks = Math.floor(random() * 2);
    if (random() < 0.2) counts[COUNT_FIELDS[2 + Math.floor(random() * 10)]!] = 1 + Math.floor(random() * 3);
    rows.push({
      ad: 1 + Math.floor(random() * 8),
      minute: firstHour * 60 + Math.floor(random() * hours * 60),
      counts,
    });
  }
  return rows;
}

function setup(nowMs: number) {
  const clock = { now: nowMs };
  const index = new MinuteIndex({ windowHours: WINDOW, sealAfterMs: 120_000, now: () => clock.now });
  return { clock, index, store: new StoreModel() };
}

/** Checks `series` against the model for random ads, ranges and bucket sizes inside the window. */
function assertSameSeries(
  index: MinuteIndex,
  store: StoreModel,
  random: () => number,
  firstHour: number,
  hours: number,
) {
  for (let q = 0; q < 40; q++) {
    const ads = [1 + Math.floor(random() * 8), 1 + Math.floor(random() * 8)].slice(
      0,
      1 + Math.floor(random() * 2),
    );
    const bucket = [1, 60, 1440][Math.floor(random() * 3)]!;
    const from = firstHour * 60 + Math.floor(random() * hours * 60);
    const to = from + 1 + Math.floor(random() * (firstHour * 60 + hours * 60 - from));
    assert.ok(index.covers(from, to), `covers ${from}..${to}`);
    assert.deepEqual(index.series(ads, from, to, bucket), store.series(ads, from, to, bucket), `query ${q}`);
  }
}

describe('MinuteIndex', () => {
  it('equals the store through adds and replacements, before and after its hours are sealed', () => {
    const random = seededRandom(1);
    const { clock, index, store } = setup((H0 + WINDOW - 1) * HOUR_MS + 30 * 60_000);
    index.startLive(Number.NEGATIVE_INFINITY); // an empty store: every hour complete
    for (let batch = 0; batch < 30; batch++) {
      const rows = randomRows(random, 50, H0, WINDOW);
      const replace = batch % 7 === 6;
      store.apply(rows, replace);
      if (replace) index.replace(rows);
      else index.add(rows);
    }
    assertSameSeries(index, store, random, H0, WINDOW);
    clock.now += 60_000; // the next minute: every ended hour is sealed now
    index.maintain();
    assertSameSeries(index, store, random, H0, WINDOW);
    // Late changes into sealed hours: a few (re-packed per ad) and a replay's worth (unsealed first).
    for (const count of [3, 500]) {
      const rows = randomRows(random, count, H0, 2);
      store.apply(rows, false);
      index.add(rows);
      const repairs = randomRows(random, count, H0, 2);
      store.apply(repairs, true);
      index.replace(repairs);
      assertSameSeries(index, store, random, H0, WINDOW);
    }
  });

  it('serves an hour only once it is loaded or was empty at start, with the changes made in between', () => {
    const random = seededRandom(2);
    const { index, store } = setup((H0 + WINDOW - 1) * HOUR_MS + 10 * 60_000);
    store.apply(randomRows(random, 300, H0, WINDOW), false); // rows stored before the index started
    index.startLive(H0 + WINDOW); // the newest stored minute is in hour H0 + WINDOW - 1
    assert.deepEqual(
      index.hoursToLoad(),
      [5, 4, 3, 2, 1, 0].map((h) => H0 + h),
    );
    assert.equal(index.covers((H0 + WINDOW) * 60, (H0 + WINDOW + 1) * 60), true);
    assert.equal(index.covers(H0 * 60, H0 * 60 + 1), false);
    for (const hour of index.hoursToLoad()) {
      // A commit between two loads: skipped by the index for hours not loaded yet, read by their load.
      const rows = randomRows(random, 40, H0, WINDOW);
      store.apply(rows, false);
      index.add(rows);
      index.loadHour(hour, store.hour(hour));
      assert.equal(index.covers(hour * 60, (H0 + WINDOW) * 60), true);
    }
    assertSameSeries(index, store, random, H0, WINDOW);
  });

  it('forgets hours that leave the window: queries over them go to the store', () => {
    const { clock, index, store } = setup((H0 + WINDOW - 1) * HOUR_MS);
    index.startLive(Number.NEGATIVE_INFINITY);
    const rows = randomRows(seededRandom(3), 100, H0, WINDOW);
    store.apply(rows, false);
    index.add(rows);
    assert.equal(index.covers(H0 * 60, H0 * 60 + 60), true);
    assert.equal(index.covers((H0 - 1) * 60, H0 * 60 + 60), false);
    clock.now += HOUR_MS;
    index.maintain();
    assert.equal(index.covers(H0 * 60, H0 * 60 + 60), false);
    assert.equal(index.covers((H0 + 1) * 60, (H0 + WINDOW) * 60), true);
    assert.equal(index.heldHours, WINDOW - 1);
    // A change for an hour out of the window is not kept.
    index.add([{ ad: 1, minute: H0 * 60, counts: { ...emptyCounts(), clicks: 1 } }]);
    assert.equal(index.heldHours, WINDOW - 1);
  });

  it('stops serving for good after a change it cannot hold, and says so once', () => {
    const failures: Error[] = [];
    const index = new MinuteIndex({
      windowHours: WINDOW,
      sealAfterMs: 120_000,
      now: () => H0 * HOUR_MS,
      onFailure: (err) => failures.push(err),
    });
    index.startLive(Number.NEGATIVE_INFINITY);
    const huge = { ...emptyCounts(), clicks: 2 ** 32 };
    index.add([{ ad: 1, minute: H0 * 60, counts: huge }]);
    index.add([{ ad: 1, minute: H0 * 60, counts: huge }]);
    assert.equal(failures.length, 1);
    assert.match(failures[0]!.message, /does not fit/);
    assert.equal(index.covers(H0 * 60, H0 * 60 + 1), false);
  });
});
