import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { COUNT_FIELDS, emptyCounts, isZeroCounts } from '../../aggregate/counts.js';
import { seededRandom } from '../../domain/seeded-random.js';
import type { AggregationCommit, MinuteDelta, SeriesRow } from '../aggregate-store.js';
import { DEFAULT_MINUTE_INDEX } from '../minute-index/minute-index.js';
import { DuckDbAggregateStore } from './duckdb-aggregate-store.js';
import { DuckDbDatabase } from './duckdb-database.js';

const HOUR_MS = 3_600_000;
/** 2026-11-24T05:40Z: the data below spans the five hours up to it. */
const NOW = Date.UTC(2026, 10, 24, 5, 40);
const NOW_HOUR = Math.floor(NOW / HOUR_MS);
const FIRST_MINUTE = (NOW_HOUR - 4) * 60;
const MINUTES = 4 * 60 + 40;
const ADS = 12;

/** A store with the minute index on a settable clock, and one on the same file that always reads DuckDB. */
async function open(path: string, clock: { now: number }) {
  const db = await DuckDbDatabase.open(path);
  const indexed = await DuckDbAggregateStore.create(db, {
    minuteIndex: { ...DEFAULT_MINUTE_INDEX, now: () => clock.now },
  });
  const plain = await DuckDbAggregateStore.create(db);
  return { db, indexed, plain };
}

function randomDeltas(
  random: () => number,
  count: number,
  firstMinute = FIRST_MINUTE,
  minutes = MINUTES,
): MinuteDelta[] {
  const byCell = new Map<string, MinuteDelta>();
  for (let i = 0; i < count; i++) {
    const ad = 1 + Math.floor(random() * ADS);
    const minute = firstMinute + Math.floor(random() * minutes);
    const counts = emptyCounts();
    counts.impressions = 1 + Math.floor(random() * 20);
    counts.clicks = Math.floor(random() * 3);
    if (random() < 0.3) counts[COUNT_FIELDS[2 + Math.floor(random() * 10)]!] = 1;
    byCell.set(`${ad}:${minute}`, { ad, minute, counts }); // one delta per cell in a commit, as the worker drains
  }
  return [...byCell.values()];
}

let offset = 0;
function commitOf(deltas: MinuteDelta[], lateDeltas: MinuteDelta[] = []): AggregationCommit {
  offset += 1000;
  return {
    deltas,
    lateDeltas,
    dedupAdded: [],
    dedupExpireBefore: undefined,
    checkpoint: { offset, maxEventTime: NOW },
  };
}

const nonzero = (rows: SeriesRow[]): SeriesRow[] => rows.filter((r) => !isZeroCounts(r.counts));

/** Random queries inside the window: the index must answer them, and exactly as DuckDB does. */
async function assertSameAnswers(
  indexed: DuckDbAggregateStore,
  plain: DuckDbAggregateStore,
  random: () => number,
): Promise<SeriesRow[][]> {
  const answers: SeriesRow[][] = [];
  for (let q = 0; q < 30; q++) {
    const ads = q % 5 === 0 ? [1, 2, 3, 4] : [1 + Math.floor(random() * ADS)];
    const bucket = [1, 60, 1440][q % 3]!;
    const from = FIRST_MINUTE - 30 + Math.floor(random() * 120);
    const to = from + 1 + Math.floor(random() * (FIRST_MINUTE + MINUTES + 60 - from));
    assert.equal(indexed.seriesSource(ads, from, to), 'memory', `query ${q} is served from memory`);
    const fromMemory = await indexed.series(ads, from, to, bucket);
    assert.deepEqual(fromMemory, nonzero(await plain.series(ads, from, to, bucket)), `query ${q}`);
    answers.push(fromMemory);
  }
  return answers;
}

describe('DuckDbAggregateStore with the minute index', () => {
  it('answers like DuckDB through commits, sealing, repairs of sealed minutes, late data and a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'adtally-index-'));
    const path = join(dir, 'store.duckdb');
    const clock = { now: NOW };
    let { db, indexed, plain } = await open(path, clock);
    try {
      const random = seededRandom(21);
      for (let i = 0; i < 20; i++) await indexed.commit('serve', commitOf(randomDeltas(random, 200)));
      await assertSameAnswers(indexed, plain, seededRandom(1));

      // Two minutes later the ended hours are packed (sealed) at the next commit: same answers.
      clock.now += 3 * 60_000;
      await indexed.commit('serve', commitOf(randomDeltas(random, 50, (NOW_HOUR - 1) * 60 + 55, 5)));
      const beforeRepairs = await assertSameAnswers(indexed, plain, seededRandom(2));

      // Reconciliation repairs minutes of sealed hours, a few and many at once.
      for (const count of [3, 400]) {
        const repairs = randomDeltas(random, count, FIRST_MINUTE, 3 * 60);
        await indexed.replaceCounts(repairs);
        const [one] = repairs;
        const [row] = await indexed.series([one!.ad], one!.minute, one!.minute + 1, 1);
        assert.deepEqual(row?.counts ?? emptyCounts(), one!.counts);
      }
      // Late deltas go to agg_late, not to the serving counts: nothing changes.
      const repaired = await assertSameAnswers(indexed, plain, seededRandom(3));
      await indexed.commit('serve', commitOf([], randomDeltas(random, 100)));
      assert.deepEqual(await assertSameAnswers(indexed, plain, seededRandom(3)), repaired);
      assert.notDeepEqual(repaired, beforeRepairs);

      // A restart rebuilds the index from the file: the same answers.
      await db.close();
      ({ db, indexed, plain } = await open(path, clock));
      const load = await indexed.minuteIndexLoaded();
      assert.equal(load.failure, undefined);
      assert.equal(load.hours, DEFAULT_MINUTE_INDEX.windowHours); // every hour of the window read, empty or not
      assert.deepEqual(await assertSameAnswers(indexed, plain, seededRandom(3)), repaired);
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loads while commits go on, and misses none of them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'adtally-index-'));
    const path = join(dir, 'store.duckdb');
    const clock = { now: NOW };
    let { db, indexed, plain } = await open(path, clock);
    try {
      const random = seededRandom(22);
      for (let i = 0; i < 10; i++) await indexed.commit('serve', commitOf(randomDeltas(random, 300)));
      await db.close();
      ({ db, indexed, plain } = await open(path, clock));
      // Commits into every hour, queued while the hours load one by one.
      const commits = Array.from({ length: 10 }, () =>
        indexed.commit('serve', commitOf(randomDeltas(random, 100))),
      );
      const [load] = await Promise.all([indexed.minuteIndexLoaded(), ...commits]);
      assert.equal(load.failure, undefined);
      await assertSameAnswers(indexed, plain, seededRandom(4));
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads DuckDB for what the index does not hold: before the window, and many ads over many hours', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'adtally-index-'));
    const clock = { now: NOW };
    const { db, indexed, plain } = await open(join(dir, 'store.duckdb'), clock);
    try {
      const old = (NOW_HOUR - 30) * 60;
      await indexed.commit('serve', commitOf(randomDeltas(seededRandom(5), 100, old, 120)));
      assert.equal(indexed.seriesSource([1], old, old + 120), 'duckdb');
      assert.deepEqual(
        await indexed.series([1, 2], old, old + 120, 1),
        await plain.series([1, 2], old, old + 120, 1),
      );
      const manyAds = Array.from({ length: 200 }, (_, i) => i + 1);
      assert.equal(indexed.seriesSource(manyAds, FIRST_MINUTE, FIRST_MINUTE + 24 * 60), 'duckdb');
      assert.equal(
        indexed.seriesSource(manyAds.slice(0, 100), FIRST_MINUTE, FIRST_MINUTE + 24 * 60),
        'memory',
      );
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
