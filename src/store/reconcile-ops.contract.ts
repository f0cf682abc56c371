import assert from 'node:assert/strict';
import { it } from 'node:test';
import { emptyCounts, isZeroCounts, type BucketCounts } from '../aggregate/counts.js';
import {
  ReconcileBusyError,
  ReconcileRaceError,
  type AggregationCommit,
  type MinuteDelta,
} from './aggregate-store.js';
import type { AggregateStoreUnderTest } from './aggregate-store.contract.js';

/*
 * The AggregateStore contract, continued: reconciliation's snapshot and
 * repair, the late totals of the query side, aggregate retention. Called by
 * aggregateStoreContract inside its describe block.
 */

const DAY_START = Date.UTC(2026, 10, 24) / 60_000;
const BASE = DAY_START + 5 * 60;

const counts = (impressions: number, clicks: number, extra: Partial<BucketCounts> = {}): BucketCounts => ({
  ...emptyCounts(),
  impressions,
  clicks,
  ...extra,
});

const commitOf = (offset: number, parts: Partial<AggregationCommit> = {}): AggregationCommit => ({
  deltas: [],
  lateDeltas: [],
  dedupAdded: [],
  dedupExpireBefore: undefined,
  checkpoint: { offset, maxEventTime: BASE * 60_000 + offset },
  ...parts,
});

const nonzero = (rows: readonly MinuteDelta[]): MinuteDelta[] => rows.filter((r) => !isZeroCounts(r.counts));

export function reconcileOpsContract(fresh: () => Promise<AggregateStoreUnderTest>): void {
  it('reads a reconcile snapshot: the checkpoints of a prefix, the range of agg_minute and agg_late, the spill hold', async () => {
    const { store } = await fresh();
    await store.commit(
      'ev/0',
      commitOf(10, {
        deltas: [
          { ad: 1, minute: BASE - 1, counts: counts(9, 9) },
          { ad: 1, minute: BASE, counts: counts(3, 1) },
          { ad: 2, minute: BASE + 59, counts: counts(1, 0, { clickBot: 2 }) },
          { ad: 2, minute: BASE + 60, counts: counts(9, 9) },
        ],
        lateDeltas: [
          { ad: 1, minute: BASE + 1, counts: counts(0, 1) },
          { ad: 1, minute: BASE + 60, counts: counts(0, 9) },
        ],
      }),
    );
    await store.commit('ev/1', commitOf(20, { checkpoint: { offset: 20, maxEventTime: undefined } }));
    await store.commit('archive/ev/0', commitOf(99));
    await store.setSpillHold('collector-a', 12_345);
    const snapshot = await store.reconcileSnapshot('ev/', BASE, BASE + 60);
    assert.deepEqual(snapshot.checkpoints, [
      { consumer: 'ev/0', checkpoint: { offset: 10, maxEventTime: BASE * 60_000 + 10 } },
      { consumer: 'ev/1', checkpoint: { offset: 20, maxEventTime: undefined } },
    ]);
    assert.deepEqual(nonzero(snapshot.serving), [
      { ad: 1, minute: BASE, counts: counts(3, 1) },
      { ad: 2, minute: BASE + 59, counts: counts(1, 0, { clickBot: 2 }) },
    ]);
    assert.deepEqual(snapshot.late, [{ ad: 1, minute: BASE + 1, counts: counts(0, 1) }]);
    assert.deepEqual(snapshot.spillHold, { collector: 'collector-a', sinceMs: 12_345 });
    assert.deepEqual((await store.reconcileSnapshot('none/', BASE, BASE + 60)).checkpoints, []);
    await store.setSpillHold('collector-a', undefined);
  });

  it('repairs in one transaction: counts replaced, late rows subtracted (emptied ones gone), offsets checked', async () => {
    const t = await fresh();
    const { store } = t;
    await store.commit(
      'ev/0',
      commitOf(10, {
        deltas: [
          { ad: 1, minute: BASE, counts: counts(3, 1) },
          { ad: 1, minute: BASE + 1, counts: counts(5, 5) },
        ],
        lateDeltas: [
          { ad: 1, minute: BASE, counts: counts(2, 1) },
          { ad: 1, minute: BASE + 2, counts: counts(4, 0) },
        ],
      }),
    );
    await store.repair({
      replace: [
        { ad: 1, minute: BASE, counts: counts(5, 2) },
        { ad: 7, minute: BASE + 3, counts: counts(1, 1, { impressionDuplicate: 4 }) },
      ],
      subtractLate: [
        { ad: 1, minute: BASE, counts: counts(2, 1) },
        { ad: 1, minute: BASE + 2, counts: counts(3, 0) },
      ],
      expectOffsets: [
        { consumer: 'ev/0', offset: 10 },
        { consumer: 'ev/9', offset: 0 },
      ],
    });
    assert.deepEqual(await store.series([1], BASE, BASE + 4, 1), [
      { minute: BASE, counts: counts(5, 2) },
      { minute: BASE + 1, counts: counts(5, 5) },
    ]);
    assert.deepEqual(await store.series([7], BASE, BASE + 4, 1), [
      { minute: BASE + 3, counts: counts(1, 1, { impressionDuplicate: 4 }) },
    ]);
    // What came in after the snapshot stays, and waits for the next run.
    assert.deepEqual(await t.lateCounts(), [{ ad: 1, minute: BASE + 2, counts: counts(1, 0) }]);
    await store.repair({ replace: [], subtractLate: [], expectOffsets: [] });
  });

  it('refuses a repair, changing nothing, when a consumer moved since the snapshot', async () => {
    const t = await fresh();
    const { store } = t;
    await store.commit(
      'ev/0',
      commitOf(10, {
        deltas: [{ ad: 1, minute: BASE, counts: counts(3, 1) }],
        lateDeltas: [{ ad: 1, minute: BASE + 1, counts: counts(1, 0) }],
      }),
    );
    await store.commit('ev/0', commitOf(15, { deltas: [{ ad: 1, minute: BASE, counts: counts(1, 0) }] }));
    for (const expectOffsets of [[{ consumer: 'ev/0', offset: 10 }], [{ consumer: 'ev/1', offset: 3 }]]) {
      await assert.rejects(
        store.repair({
          replace: [{ ad: 1, minute: BASE, counts: counts(3, 1) }],
          subtractLate: [{ ad: 1, minute: BASE + 1, counts: counts(1, 0) }],
          expectOffsets,
        }),
        (err: unknown) => {
          assert.ok(err instanceof ReconcileRaceError, String(err));
          assert.equal(err.retriable, true);
          return true;
        },
      );
    }
    assert.deepEqual(await store.series([1], BASE, BASE + 1, 1), [{ minute: BASE, counts: counts(4, 1) }]);
    assert.deepEqual(await t.lateCounts(), [{ ad: 1, minute: BASE + 1, counts: counts(1, 0) }]);
  });

  it('refuses to subtract late rows that no longer hold what the snapshot read (another run folded them)', async () => {
    const t = await fresh();
    const { store } = t;
    await store.commit('ev/0', commitOf(10, { lateDeltas: [{ ad: 1, minute: BASE, counts: counts(2, 1) }] }));
    const repair = {
      replace: [{ ad: 1, minute: BASE, counts: counts(2, 1) }],
      subtractLate: [{ ad: 1, minute: BASE, counts: counts(2, 1) }],
      expectOffsets: [],
    };
    await store.repair(repair);
    await assert.rejects(store.repair(repair), ReconcileRaceError);
    await store.replaceCounts([{ ad: 1, minute: BASE, counts: counts(9, 9) }]);
    await store.commit('ev/0', commitOf(11, { lateDeltas: [{ ad: 1, minute: BASE, counts: counts(1, 1) }] }));
    await assert.rejects(store.repair(repair), ReconcileRaceError);
    assert.deepEqual(await t.lateCounts(), [{ ad: 1, minute: BASE, counts: counts(1, 1) }]);
    assert.deepEqual(await store.series([1], BASE, BASE + 1, 1), [{ minute: BASE, counts: counts(9, 9) }]);
  });

  it('runs one reconciliation at a time: another asking meanwhile is refused at once, and may run after', async () => {
    const { store } = await fresh();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = store.exclusiveReconcile(() => held.then(() => 'first'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await assert.rejects(
      store.exclusiveReconcile(() => Promise.resolve('second')),
      ReconcileBusyError,
    );
    release();
    assert.equal(await first, 'first');
    assert.equal(await store.exclusiveReconcile(() => Promise.resolve('third')), 'third');
    await assert.rejects(
      store.exclusiveReconcile(() => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(await store.exclusiveReconcile(() => Promise.resolve('after a failure')), 'after a failure');
  });

  it('totals the late events of some ads in a range, and names the hours they wait in', async () => {
    const { store } = await fresh();
    assert.equal(await store.lateTotals([1], BASE, BASE + 60), 0);
    await store.commit(
      'ev/0',
      commitOf(10, {
        deltas: [{ ad: 1, minute: BASE, counts: counts(100, 100) }],
        lateDeltas: [
          { ad: 1, minute: BASE, counts: counts(2, 1, { clickBot: 1, impressionDuplicate: 3 }) },
          { ad: 1, minute: BASE + 60, counts: counts(50, 0) },
          { ad: 2, minute: BASE + 1, counts: counts(0, 4) },
          { ad: 3, minute: BASE + 1, counts: counts(70, 0) },
        ],
      }),
    );
    assert.equal(await store.lateTotals([1], BASE, BASE + 60), 7);
    assert.equal(await store.lateTotals([1, 2], BASE, BASE + 61), 61);
    assert.equal(await store.lateTotals([], BASE, BASE + 61), 0);
    assert.equal(await store.lateTotals([2], BASE + 2, BASE + 61), 0);
    assert.deepEqual(await store.lateHours(BASE + 120), [BASE, BASE + 60]);
    assert.deepEqual(await store.lateHours(BASE + 60), [BASE]);
    assert.deepEqual(await store.lateHours(BASE), []);
  });

  it('deletes the minutes before a retention horizon, across day boundaries, and takes new ones after', async () => {
    const t = await fresh();
    const { store } = t;
    const minutes = [
      DAY_START - 1440 + 10,
      DAY_START - 1,
      DAY_START,
      DAY_START + 700,
      DAY_START + 701,
      DAY_START + 1440 + 5,
    ];
    await store.commit(
      'ev/0',
      commitOf(10, {
        deltas: minutes.map((minute) => ({ ad: 1, minute, counts: counts(1, 1) })),
        lateDeltas: [
          { ad: 1, minute: DAY_START - 5, counts: counts(1, 0) },
          { ad: 1, minute: DAY_START + 701, counts: counts(1, 0) },
        ],
      }),
    );
    const result = await store.deleteMinutesBefore(DAY_START + 701);
    // Four minute rows and one late row are before the horizon.
    assert.equal(result.rows, 5, JSON.stringify(result));
    const all = await store.series([1], DAY_START - 2 * 1440, DAY_START + 3 * 1440, 1);
    assert.deepEqual(
      all.map((r) => r.minute),
      [DAY_START + 701, DAY_START + 1440 + 5],
    );
    assert.deepEqual(
      (await t.lateCounts()).map((r) => r.minute),
      [DAY_START + 701],
    );
    // A day whose minutes were all deleted can be written again (reconciliation of an old day).
    await store.replaceCounts([{ ad: 1, minute: DAY_START - 1440 + 10, counts: counts(2, 2) }]);
    assert.deepEqual(await store.series([1], DAY_START - 1440, DAY_START, 1), [
      { minute: DAY_START - 1440 + 10, counts: counts(2, 2) },
    ]);
    assert.deepEqual(await store.deleteMinutesBefore(0), { rows: 0, droppedPartitions: 0 });
  });
}
