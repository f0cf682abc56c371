import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { emptyCounts, type BucketCounts } from '../../aggregate/counts.js';
import { FencedCommitError, type AggregationCommit, type MinuteDelta } from '../aggregate-store.js';
import { createFreshDatabase, type FreshDatabase } from './fresh-test-database.js';
import { partitionName } from './postgres-aggregate-schema.js';
import { PostgresAggregateStore } from './postgres-aggregate-store.js';
import { PostgresDatabase } from './postgres-database.js';

const DAY = Date.UTC(2027, 0, 15) / 86_400_000;
const MIDNIGHT = DAY * 1440;

const counts = (impressions: number, clicks: number): BucketCounts => ({
  ...emptyCounts(),
  impressions,
  clicks,
});
const commitOf = (deltas: MinuteDelta[], epoch?: number, offset = 1): AggregationCommit => ({
  deltas,
  lateDeltas: [],
  dedupAdded: [],
  dedupExpireBefore: undefined,
  checkpoint: { offset, maxEventTime: undefined },
  ...(epoch === undefined ? {} : { epoch }),
});

describe('PostgresAggregateStore against a real server', () => {
  let database: FreshDatabase;
  const opened: PostgresDatabase[] = [];
  const openStore = async (query = ''): Promise<{ db: PostgresDatabase; store: PostgresAggregateStore }> => {
    const db = await PostgresDatabase.open(database.url + query);
    opened.push(db);
    return { db, store: await PostgresAggregateStore.create(db) };
  };
  before(async () => {
    database = await createFreshDatabase('store_it');
  });
  after(async () => {
    for (const db of opened) await db.close();
    await database.drop();
  });

  it('retention drops the day partitions wholly before the horizon, even those another process made, and deletes the rest', async () => {
    const a = await openStore();
    const b = await openStore();
    const day = DAY + 100;
    // Three days of rows, the first two days' partitions made through the other store.
    await b.store.commit(
      'events/0',
      commitOf([0, 1, 2].map((d) => ({ ad: 1, minute: (day + d) * 1440 + 5, counts: counts(1, 0) }))),
    );
    await a.store.commit(
      'events/0',
      commitOf([{ ad: 1, minute: (day + 2) * 1440 + 500, counts: counts(1, 0) }]),
    );
    const exists = async (d: number): Promise<boolean> =>
      (
        await a.db.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [
          partitionName(d),
        ])
      )[0]!.found;
    assert.deepEqual([await exists(day), await exists(day + 1), await exists(day + 2)], [true, true, true]);
    const result = await a.store.deleteMinutesBefore((day + 2) * 1440 + 100);
    // Today's and tomorrow's (made at open, before the horizon of this test) go too.
    assert.deepEqual(result, { rows: 3, droppedPartitions: 4 });
    assert.deepEqual([await exists(day), await exists(day + 1), await exists(day + 2)], [false, false, true]);
    assert.deepEqual(
      (await a.store.series([1], day * 1440, (day + 3) * 1440, 1)).map((r) => r.minute),
      [(day + 2) * 1440 + 500],
    );
    // The other store's list of partitions is stale: a write into a dropped day makes it again.
    await b.store.replaceCounts([{ ad: 1, minute: day * 1440 + 7, counts: counts(2, 0) }]);
    assert.equal(await exists(day), true);
  });

  it('creates the schema when several processes open the same database at once', async () => {
    const stores = await Promise.all(Array.from({ length: 4 }, () => openStore('?pool=2')));
    assert.equal(stores.length, 4);
  });

  it('adds up concurrent commits from two pools to the same (ad, minute), across a midnight partition both create', async () => {
    const a = await openStore('?pool=4');
    const b = await openStore('?pool=4');
    const cells = [MIDNIGHT - 1, MIDNIGHT, MIDNIGHT + 1];
    // Both pools start committing into a day neither has a partition for yet.
    const commits: Promise<void>[] = [];
    for (let i = 0; i < 40; i++) {
      const store = i % 2 === 0 ? a.store : b.store;
      const deltas = cells.map((minute, j) => ({ ad: 5 + (j % 2), minute, counts: counts(1, i % 3) }));
      // Reversed order in half of them: the store sorts, so no deadlock.
      commits.push(
        store.commit(`events/${i % 4}`, commitOf(i % 4 < 2 ? deltas : deltas.reverse(), undefined, i)),
      );
    }
    await Promise.all(commits);
    let clicks = 0;
    for (let i = 0; i < 40; i++) clicks += i % 3;
    assert.deepEqual(await a.store.series([5, 6], MIDNIGHT - 1, MIDNIGHT + 2, 1), [
      { minute: MIDNIGHT - 1, counts: counts(40, clicks) },
      { minute: MIDNIGHT, counts: counts(40, clicks) },
      { minute: MIDNIGHT + 1, counts: counts(40, clicks) },
    ]);
    const partitions = await a.db.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'agg_minute'::regclass AND c.relname = ANY($1) ORDER BY 1`,
      [[partitionName(DAY - 1), partitionName(DAY), partitionName(DAY + 1)]],
    );
    assert.deepEqual(
      partitions.map((p) => p.name),
      ['agg_minute_20270114', 'agg_minute_20270115', 'agg_minute_20270116'],
      'the days written, and the day after the latest, made ahead',
    );
  });

  it('refuses a zombie: A checked its epoch, B claims while A commits, A commits again', async () => {
    const a = await openStore();
    const b = await openStore();
    const consumer = 'events/zombie';
    const epochA = await a.store.claimOwnership(consumer);
    // B's claim races A's commit: A's commit lands before the claim or is refused, never after it.
    const [first, epochB] = await Promise.all([
      a.store
        .commit(consumer, commitOf([{ ad: 77, minute: MIDNIGHT, counts: counts(1, 0) }], epochA, 10))
        .then(
          () => 'applied' as const,
          (err: unknown) => {
            assert.ok(err instanceof FencedCommitError, String(err));
            return 'refused' as const;
          },
        ),
      b.store.claimOwnership(consumer),
    ]);
    assert.equal(epochB, epochA + 1);
    // Every commit of A after B's claim is refused and changes nothing.
    for (let i = 0; i < 3; i++) {
      await assert.rejects(
        a.store.commit(
          consumer,
          commitOf([{ ad: 77, minute: MIDNIGHT, counts: counts(100, 0) }], epochA, 20 + i),
        ),
        FencedCommitError,
      );
    }
    await b.store.commit(
      consumer,
      commitOf([{ ad: 77, minute: MIDNIGHT, counts: counts(2, 0) }], epochB, 30),
    );
    assert.deepEqual(await b.store.series([77], MIDNIGHT, MIDNIGHT + 1, 1), [
      { minute: MIDNIGHT, counts: counts(first === 'applied' ? 3 : 2, 0) },
    ]);
    assert.deepEqual(await b.store.loadCheckpoint(consumer), { offset: 30, maxEventTime: undefined });
  });

  it('a claim waits for a commit holding the owner row, and the commit after it is refused', async () => {
    const a = await openStore();
    const consumer = 'events/held';
    const epoch = await a.store.claimOwnership(consumer);
    // Hold the owner row as a commit in progress does, and let a claim queue behind it.
    const holder = await a.db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT epoch FROM consumer_owners WHERE consumer = $1 FOR UPDATE', [consumer]);
      let claimed = false;
      const claim = a.store.claimOwnership(consumer).then((e) => {
        claimed = true;
        return e;
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(claimed, false, 'the claim waits for the transaction holding the owner row');
      await holder.query('COMMIT');
      assert.equal(await claim, epoch + 1);
    } finally {
      holder.release();
    }
    await assert.rejects(a.store.commit(consumer, commitOf([], epoch)), FencedCommitError);
  });

  it('fails in bounded time against a server that accepts connections and never answers', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    try {
      await assert.rejects(
        PostgresDatabase.open(`postgres://postgres@127.0.0.1:${port}/x?connect_timeout_ms=300`),
        /does not answer/,
      );
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});
