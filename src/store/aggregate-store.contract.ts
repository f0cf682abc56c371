import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  COUNT_FIELDS,
  addCounts,
  emptyCounts,
  isZeroCounts,
  type BucketCounts,
} from '../aggregate/counts.js';
import { ANY_AD, type DedupEntry } from '../aggregate/dedup-index.js';
import { seededRandom } from '../domain/seeded-random.js';
import {
  FencedCommitError,
  type AggregateStore,
  type AggregationCommit,
  type MinuteDelta,
  type SeriesRow,
  type TopRow,
} from './aggregate-store.js';
import { reconcileOpsContract } from './reconcile-ops.contract.js';

/** One adapter opened on empty data, for one test. */
export interface AggregateStoreUnderTest {
  readonly store: AggregateStore;
  /** The late counts the adapter kept (read behind the port: the port only writes them). */
  lateCounts(): Promise<MinuteDelta[]>;
  close(): Promise<void>;
}

/** 2026-11-24T00:00Z in minutes: day boundaries are at multiples of 1440. */
const DAY_START = Date.UTC(2026, 10, 24) / 60_000;
const BASE = DAY_START + 5 * 60;

const counts = (impressions: number, clicks: number, extra: Partial<BucketCounts> = {}): BucketCounts => ({
  ...emptyCounts(),
  impressions,
  clicks,
  ...extra,
});

let nextOffset = 0;
function commitOf(parts: Partial<AggregationCommit> = {}): AggregationCommit {
  nextOffset += 100;
  return {
    deltas: [],
    lateDeltas: [],
    dedupAdded: [],
    dedupExpireBefore: undefined,
    checkpoint: { offset: nextOffset, maxEventTime: BASE * 60_000 },
    ...parts,
  };
}

const nonzero = (rows: SeriesRow[]): SeriesRow[] => rows.filter((r) => !isZeroCounts(r.counts));

/** What `series` must answer, computed from the cells written. */
function expectedSeries(
  cells: ReadonlyMap<string, MinuteDelta>,
  ads: readonly number[],
  from: number,
  to: number,
  bucket: number,
): SeriesRow[] {
  const sums = new Map<number, BucketCounts>();
  for (const cell of cells.values()) {
    if (!ads.includes(cell.ad) || cell.minute < from || cell.minute >= to) continue;
    const start = Math.floor(cell.minute / bucket) * bucket;
    addCounts(sums.get(start) ?? sums.set(start, emptyCounts()).get(start)!, cell.counts);
  }
  return nonzero([...sums].sort(([a], [b]) => a - b).map(([minute, c]) => ({ minute, counts: c })));
}

function expectedTop(
  cells: ReadonlyMap<string, MinuteDelta>,
  ads: readonly number[] | undefined,
  from: number,
  to: number,
  by: 'clicks' | 'impressions' | 'ctr',
  limit: number,
): TopRow[] {
  const totals = new Map<number, { impressions: number; clicks: number }>();
  for (const cell of cells.values()) {
    if ((ads !== undefined && !ads.includes(cell.ad)) || cell.minute < from || cell.minute >= to) continue;
    const t = totals.get(cell.ad) ?? totals.set(cell.ad, { impressions: 0, clicks: 0 }).get(cell.ad)!;
    t.impressions += cell.counts.impressions;
    t.clicks += cell.counts.clicks;
  }
  const ctr = (t: { impressions: number; clicks: number }): number =>
    t.impressions === 0 ? 0 : t.clicks / t.impressions;
  return [...totals]
    .map(([ad, t]) => ({ ad, ...t }))
    .sort((a, b) =>
      by === 'ctr' ? ctr(b) - ctr(a) || b.clicks - a.clicks || a.ad - b.ad : b[by] - a[by] || a.ad - b.ad,
    )
    .slice(0, limit);
}

/** Random deltas over `ads` ads and `minutes` minutes from `first`, one per cell. */
function randomDeltas(
  random: () => number,
  n: number,
  ads: number,
  first: number,
  minutes: number,
): MinuteDelta[] {
  const byCell = new Map<string, MinuteDelta>();
  for (let i = 0; i < n; i++) {
    const ad = 1 + Math.floor(random() * ads);
    const minute = first + Math.floor(random() * minutes);
    const c = counts(1 + Math.floor(random() * 40), Math.floor(random() * 4));
    if (random() < 0.3) c[COUNT_FIELDS[2 + Math.floor(random() * 10)]!] = 1 + Math.floor(random() * 3);
    byCell.set(`${ad}:${minute}`, { ad, minute, counts: c });
  }
  return [...byCell.values()];
}

function addInto(cells: Map<string, MinuteDelta>, deltas: readonly MinuteDelta[]): void {
  for (const d of deltas) {
    const key = `${d.ad}:${d.minute}`;
    const known = cells.get(key);
    cells.set(key, {
      ad: d.ad,
      minute: d.minute,
      counts: addCounts(addCounts(emptyCounts(), known?.counts ?? emptyCounts()), d.counts),
    });
  }
}

/** Entries merged per (kind, ad, imp) as DedupIndex's restore merges them: first offset, latest expiry. */
function mergedDedup(entries: readonly DedupEntry[]): DedupEntry[] {
  const byKey = new Map<string, DedupEntry>();
  for (const e of entries) {
    const key = `${e.kind}|${e.ad}|${e.imp}`;
    const known = byKey.get(key);
    byKey.set(
      key,
      known === undefined
        ? e
        : {
            ...e,
            firstOffset: Math.min(known.firstOffset, e.firstOffset),
            expiresAt: Math.max(known.expiresAt, e.expiresAt),
          },
    );
  }
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, e]) => e);
}

/**
 * The AggregateStore contract: every adapter passes it. `open` gives a store
 * on empty data for each test.
 */
export function aggregateStoreContract(adapter: string, open: () => Promise<AggregateStoreUnderTest>): void {
  describe(`AggregateStore contract: ${adapter}`, () => {
    const opened: AggregateStoreUnderTest[] = [];
    const fresh = async (): Promise<AggregateStore> => {
      const t = await open();
      opened.push(t);
      return t.store;
    };
    after(async () => {
      for (const t of opened.splice(0)) await t.close();
    });

    it('adds a commit into the serving counts, and a second commit for the same (ad, minute) onto it', async () => {
      const store = await fresh();
      await store.commit(
        'c',
        commitOf({ deltas: [{ ad: 7, minute: BASE, counts: counts(10, 1, { clickBot: 2 }) }] }),
      );
      await store.commit(
        'c',
        commitOf({
          deltas: [
            { ad: 7, minute: BASE, counts: counts(5, 2, { impressionExpired: 1 }) },
            { ad: 7, minute: BASE + 1, counts: counts(3, 0) },
          ],
        }),
      );
      assert.deepEqual(await store.series([7], BASE, BASE + 2, 1), [
        { minute: BASE, counts: counts(15, 3, { clickBot: 2, impressionExpired: 1 }) },
        { minute: BASE + 1, counts: counts(3, 0) },
      ]);
      assert.deepEqual(await store.series([8], BASE, BASE + 2, 1), []);
    });

    it('keeps late deltas apart: kept for reconciliation, never served', async () => {
      const t = await open();
      opened.push(t);
      await t.store.commit('c', commitOf({ deltas: [{ ad: 1, minute: BASE, counts: counts(4, 1) }] }));
      await t.store.commit('c', commitOf({ lateDeltas: [{ ad: 1, minute: BASE, counts: counts(2, 2) }] }));
      await t.store.commit('c', commitOf({ lateDeltas: [{ ad: 1, minute: BASE, counts: counts(1, 0) }] }));
      assert.deepEqual(await t.store.series([1], BASE, BASE + 1, 1), [
        { minute: BASE, counts: counts(4, 1) },
      ]);
      assert.deepEqual(await t.store.top(undefined, BASE, BASE + 1, 'clicks', 10), [
        { ad: 1, impressions: 4, clicks: 1 },
      ]);
      assert.deepEqual(await t.lateCounts(), [{ ad: 1, minute: BASE, counts: counts(3, 2) }]);
    });

    it('round-trips the checkpoint, an unknown watermark included', async () => {
      const store = await fresh();
      assert.equal(await store.loadCheckpoint('events/0'), undefined);
      await store.commit(
        'events/0',
        commitOf({ checkpoint: { offset: 2 ** 40 + 3, maxEventTime: 1_790_000_000_123 } }),
      );
      assert.deepEqual(await store.loadCheckpoint('events/0'), {
        offset: 2 ** 40 + 3,
        maxEventTime: 1_790_000_000_123,
      });
      await store.commit('events/0', commitOf({ checkpoint: { offset: 5, maxEventTime: undefined } }));
      assert.deepEqual(await store.loadCheckpoint('events/0'), { offset: 5, maxEventTime: undefined });
      assert.equal(await store.loadCheckpoint('events/1'), undefined);
    });

    it('lists the checkpoints of a prefix, in name order, with when they were committed', async () => {
      const store = await fresh();
      const before = Date.now();
      for (const consumer of ['ev_1/1', 'ev_1/0', 'evX1/0', 'other/0']) {
        await store.commit(consumer, commitOf({ checkpoint: { offset: consumer.length, maxEventTime: 42 } }));
      }
      const afterCommits = Date.now();
      const rows = await store.listCheckpoints('ev_1/');
      assert.deepEqual(
        rows.map((r) => [r.consumer, r.checkpoint]),
        [
          ['ev_1/0', { offset: 6, maxEventTime: 42 }],
          ['ev_1/1', { offset: 6, maxEventTime: 42 }],
        ],
        'a prefix is literal: _ is not a wildcard',
      );
      for (const r of rows)
        assert.ok(r.committedAt >= before && r.committedAt <= afterCommits, `${r.committedAt}`);
      assert.deepEqual(await store.listCheckpoints('none/'), []);
      assert.equal((await store.listCheckpoints('')).length, 4);
    });

    it('keeps the earliest spill hold of any collector until each one clears its own', async () => {
      const store = await fresh();
      assert.equal(await store.spillHold(), undefined);
      await store.setSpillHold('collector-a', 5_000);
      await store.setSpillHold('collector-b', 3_000);
      assert.deepEqual(await store.spillHold(), { collector: 'collector-b', sinceMs: 3_000 });
      await store.setSpillHold('collector-b', 7_000);
      assert.deepEqual(await store.spillHold(), { collector: 'collector-a', sinceMs: 5_000 });
      await store.setSpillHold('collector-a', undefined);
      assert.deepEqual(await store.spillHold(), { collector: 'collector-b', sinceMs: 7_000 });
      await store.setSpillHold('collector-b', undefined);
      assert.equal(await store.spillHold(), undefined);
    });

    it('bumps the owner epoch at every claim, per consumer', async () => {
      const store = await fresh();
      assert.equal(await store.claimOwnership('events/0'), 1);
      assert.equal(await store.claimOwnership('events/0'), 2);
      assert.equal(await store.claimOwnership('events/1'), 1);
      assert.equal(await store.claimOwnership('events/0'), 3);
    });

    it('applies a commit made under the current epoch, and refuses one made under an older epoch, changing nothing', async () => {
      const store = await fresh();
      const old = await store.claimOwnership('events/3');
      const entry: DedupEntry = { kind: 'click', ad: 9, imp: 'imp-a', firstOffset: 10, expiresAt: 5_000 };
      await store.commit(
        'events/3',
        commitOf({
          epoch: old,
          deltas: [{ ad: 9, minute: BASE, counts: counts(1, 1) }],
          dedupAdded: [entry],
          checkpoint: { offset: 11, maxEventTime: 1 },
        }),
      );
      const current = await store.claimOwnership('events/3');
      const zombie = commitOf({
        epoch: old,
        deltas: [{ ad: 9, minute: BASE, counts: counts(100, 100) }],
        lateDeltas: [{ ad: 9, minute: BASE - 60, counts: counts(1, 0) }],
        dedupAdded: [{ kind: 'click', ad: 9, imp: 'imp-b', firstOffset: 12, expiresAt: 5_000 }],
        dedupExpireBefore: 10_000,
        checkpoint: { offset: 99, maxEventTime: 2 },
      });
      await assert.rejects(store.commit('events/3', zombie), (err: unknown) => {
        assert.ok(err instanceof FencedCommitError, String(err));
        assert.deepEqual([err.consumer, err.epoch, err.currentEpoch], ['events/3', old, current]);
        return true;
      });
      assert.deepEqual(await store.series([9], BASE, BASE + 1, 1), [{ minute: BASE, counts: counts(1, 1) }]);
      assert.deepEqual(await store.loadCheckpoint('events/3'), { offset: 11, maxEventTime: 1 });
      assert.deepEqual(await store.loadDedup(0, () => Promise.resolve(undefined)), [entry]);

      await store.commit(
        'events/3',
        commitOf({ epoch: current, deltas: [{ ad: 9, minute: BASE, counts: counts(2, 0) }] }),
      );
      assert.deepEqual(await store.series([9], BASE, BASE + 1, 1), [{ minute: BASE, counts: counts(3, 1) }]);
      // A consumer never claimed has epoch 0: a commit carrying any other is refused.
      await assert.rejects(store.commit('events/4', commitOf({ epoch: 1 })), FencedCommitError);
      assert.equal(await store.loadCheckpoint('events/4'), undefined);
    });

    it('round-trips dedup entries, keeps the first offset and latest expiry, and drops expired ones', async () => {
      const store = await fresh();
      const noLog = (): Promise<undefined> => Promise.resolve(undefined);
      const first: DedupEntry[] = [
        { kind: 'impression', ad: 3, imp: 'i-1', firstOffset: 100, expiresAt: 10_000 },
        { kind: 'click', ad: 3, imp: 'i-1', firstOffset: 101, expiresAt: 10_000 },
        { kind: 'click', ad: 4, imp: 'i-1', firstOffset: 102, expiresAt: 20_000 },
        { kind: 'click', ad: ANY_AD, imp: 'legacy', firstOffset: 5, expiresAt: 30_000 },
        { kind: 'impression', ad: 5, imp: 'short', firstOffset: 7, expiresAt: 1_000.5 },
      ];
      await store.commit('c', commitOf({ dedupAdded: first }));
      assert.deepEqual(mergedDedup(await store.loadDedup(0, noLog)), mergedDedup(first));
      // Listed again with a later expiry (a re-signed token): one entry, first offset kept.
      await store.commit(
        'c',
        commitOf({ dedupAdded: [{ kind: 'click', ad: 3, imp: 'i-1', firstOffset: 150, expiresAt: 40_000 }] }),
      );
      const merged = mergedDedup(await store.loadDedup(0, noLog));
      assert.deepEqual(
        merged.find((e) => e.kind === 'click' && e.ad === 3),
        { kind: 'click', ad: 3, imp: 'i-1', firstOffset: 101, expiresAt: 40_000 },
      );
      // The horizon filters, the expiry deletes.
      assert.deepEqual(
        mergedDedup(await store.loadDedup(15_000, noLog)).map((e) => `${e.kind}/${e.ad}/${e.imp}`),
        ['click/0/legacy', 'click/3/i-1', 'click/4/i-1'],
      );
      await store.commit('c', commitOf({ dedupExpireBefore: 25_000 }));
      assert.deepEqual(
        mergedDedup(await store.loadDedup(0, noLog)).map((e) => `${e.kind}/${e.ad}/${e.imp}/${e.expiresAt}`),
        ['click/0/legacy/30000', 'click/3/i-1/40000'],
      );
    });

    it('replaceCounts sets exact counts, final minutes and zeros included, and leaves other cells alone', async () => {
      const store = await fresh();
      await store.commit(
        'c',
        commitOf({
          deltas: [
            { ad: 1, minute: BASE, counts: counts(10, 5) },
            { ad: 1, minute: BASE + 1, counts: counts(10, 5) },
            { ad: 2, minute: BASE, counts: counts(10, 5) },
          ],
        }),
      );
      await store.replaceCounts([
        { ad: 1, minute: BASE, counts: counts(7, 1, { clickDuplicate: 3 }) },
        { ad: 2, minute: BASE, counts: emptyCounts() },
        { ad: 3, minute: BASE - 3 * 1440, counts: counts(1, 1) },
      ]);
      assert.deepEqual(await store.series([1], BASE, BASE + 2, 1), [
        { minute: BASE, counts: counts(7, 1, { clickDuplicate: 3 }) },
        { minute: BASE + 1, counts: counts(10, 5) },
      ]);
      assert.deepEqual(nonzero(await store.series([2], BASE, BASE + 1, 1)), []);
      assert.deepEqual(await store.series([3], BASE - 3 * 1440, BASE, 1440), [
        { minute: DAY_START - 3 * 1440, counts: counts(1, 1) },
      ]);
      await store.replaceCounts([]);
    });

    it('answers series over minute, hour and day buckets and several ads, across a day boundary', async () => {
      const store = await fresh();
      const random = seededRandom(7);
      const cells = new Map<string, MinuteDelta>();
      // Three days around two midnights, several commits so cells add up.
      for (let i = 0; i < 6; i++) {
        const deltas = randomDeltas(random, 400, 6, DAY_START - 1440 - 30, 2 * 1440 + 60);
        addInto(cells, deltas);
        await store.commit('c', commitOf({ deltas }));
      }
      const queries: [number[], number, number, number][] = [
        [[1], DAY_START - 10, DAY_START + 10, 1],
        [[2], DAY_START - 1440, DAY_START + 1440, 1],
        [[1, 2, 3], DAY_START - 90, DAY_START + 1500, 60],
        [[4, 5, 6], DAY_START - 1440 - 30, DAY_START + 1440 + 30, 1440],
        [[1, 2, 3, 4, 5, 6], DAY_START - 200, DAY_START + 200, 60],
        [[6], DAY_START + 17, DAY_START + 18, 1440],
        [[99], DAY_START, DAY_START + 1440, 1],
      ];
      for (const [ads, from, to, bucket] of queries) {
        assert.deepEqual(
          nonzero(await store.series(ads, from, to, bucket)),
          expectedSeries(cells, ads, from, to, bucket),
          `series ${JSON.stringify([ads, from - DAY_START, to - DAY_START, bucket])}`,
        );
      }
      assert.deepEqual(await store.series([], DAY_START, DAY_START + 10, 1), []);
      assert.deepEqual(await store.series([1], DAY_START + 10, DAY_START + 10, 1), []);
    });

    it('ranks ads by clicks, impressions and ctr, with a limit and an optional ad filter', async () => {
      const store = await fresh();
      const cells = new Map<string, MinuteDelta>();
      const deltas = randomDeltas(seededRandom(11), 600, 30, DAY_START - 60, 180);
      // Ties: two ads with equal totals, and one with no impressions.
      deltas.push(
        { ad: 41, minute: DAY_START, counts: counts(1000, 100) },
        { ad: 42, minute: DAY_START + 1, counts: counts(1000, 100) },
        { ad: 43, minute: DAY_START + 1, counts: counts(0, 3) },
      );
      addInto(cells, deltas);
      await store.commit('c', commitOf({ deltas }));
      for (const by of ['clicks', 'impressions', 'ctr'] as const) {
        for (const [ads, from, to, limit] of [
          [undefined, DAY_START - 60, DAY_START + 120, 10],
          [undefined, DAY_START - 30, DAY_START + 30, 3],
          [[1, 2, 3, 41, 42, 43], DAY_START - 60, DAY_START + 120, 5],
          [[5], DAY_START - 60, DAY_START + 120, 10],
          [undefined, DAY_START + 500, DAY_START + 600, 10],
        ] as const) {
          assert.deepEqual(
            await store.top(ads, from, to, by, limit),
            expectedTop(cells, ads, from, to, by, limit),
            `top by ${by} ${JSON.stringify([ads, from - DAY_START, to - DAY_START, limit])}`,
          );
        }
      }
      assert.deepEqual(await store.top([], DAY_START - 60, DAY_START + 120, 'clicks', 10), []);
    });

    it('lists the stored minutes of a range, of some ads or all, in (minute, ad) order, up to a limit', async () => {
      const store = await fresh();
      const cells = new Map<string, MinuteDelta>();
      for (let i = 0; i < 3; i++) {
        const deltas = randomDeltas(seededRandom(13 + i), 300, 8, DAY_START - 90, 180);
        addInto(cells, deltas);
        await store.commit('c', commitOf({ deltas }));
      }
      // Late counts are not serving counts: never listed.
      await store.commit(
        'c',
        commitOf({ lateDeltas: [{ ad: 77, minute: DAY_START, counts: counts(5, 5) }] }),
      );
      const expected = (ads: readonly number[] | undefined, from: number, to: number, limit: number) =>
        [...cells.values()]
          .filter((c) => (ads === undefined || ads.includes(c.ad)) && c.minute >= from && c.minute < to)
          .sort((a, b) => a.minute - b.minute || a.ad - b.ad)
          .slice(0, limit);
      for (const [ads, from, to, limit] of [
        [undefined, DAY_START - 90, DAY_START + 90, 100_000],
        [[2, 5], DAY_START - 30, DAY_START + 30, 100_000],
        [undefined, DAY_START - 10, DAY_START + 10, 7],
        [[3], DAY_START + 500, DAY_START + 600, 10],
        [[99], DAY_START - 90, DAY_START + 90, 10],
      ] as const) {
        const rows = await store.minuteRows(ads, from, to, limit);
        assert.deepEqual(
          rows,
          expected(ads, from, to, limit),
          `minuteRows ${JSON.stringify([ads, from, to, limit])}`,
        );
      }
      assert.deepEqual(await store.minuteRows([], DAY_START - 90, DAY_START + 90, 10), []);
    });

    reconcileOpsContract(async () => {
      const t = await open();
      opened.push(t);
      return t;
    });
  });
}
