import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { AggregationWorker } from '../../aggregate/aggregation-worker.js';
import { logEventReader } from '../../aggregate/log-event-reader.js';
import { EmbeddedDedup } from '../../dedup/embedded-dedup.js';
import { encodeEvent, type EventType, type TrackedEvent } from '../../domain/event.js';
import type { EventLog } from '../../log/event-log.js';
import { openFileEventLog } from '../../log/file/file-event-log.js';
import { AggregationMetrics } from '../../metrics/aggregation-metrics.js';
import type { ReadEventAt } from '../aggregate-store.js';
import { migrateDedupAds } from './dedup-ad-migration.js';
import { DuckDbAggregateStore } from './duckdb-aggregate-store.js';
import { DuckDbDatabase } from './duckdb-database.js';

const OPTIONS = { allowedLatenessMs: 5_000, clickTtlMs: 86_400_000 };
const T = Date.now() - 600_000;
const EXPIRES = T + 2 * 86_400_000;

/** dedup_entries as the release that keyed dedup by imp alone created it. */
const OLD_DDL = `CREATE TABLE dedup_entries (
  kind UTINYINT NOT NULL,
  imp VARCHAR NOT NULL,
  first_offset BIGINT NOT NULL,
  expires_at DOUBLE NOT NULL
)`;
const KIND = { impression: 0, click: 1 } as const;

function event(type: EventType, ad: number, imp: string, dt: number): TrackedEvent {
  return {
    type,
    ad,
    imp,
    tokenTs: Math.floor(T / 1000),
    eventTime: T + dt,
    receivedAt: T + dt,
    outcome: 'ok',
    ipHash: Buffer.alloc(8),
    userAgent: 'browser',
    source: 'get',
  };
}

interface Fixture {
  dir: string;
  log: EventLog;
  db: DuckDbDatabase;
  store: DuckDbAggregateStore;
  /** Offsets of the events written by the old release, by name. */
  at: Record<string, number>;
}

/**
 * A data dir as the old release left it: a log of events, dedup_entries in
 * the old layout holding one entry per first valid event, and a checkpoint
 * past them all. `stray` is an entry whose offset holds another imp's event
 * (its ad cannot be recovered); `gone` one whose offset is past the log's end.
 */
async function oldDataDir(): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'adtally-migrate-'));
  const log = await openFileEventLog(join(dir, 'log'));
  const events: [string, TrackedEvent][] = [
    ['clickX', event('click', 1, 'imp-XXXXXXXX', 0)],
    ['impressionX', event('impression', 1, 'imp-XXXXXXXX', 100)],
    ['duplicateX', event('click', 1, 'imp-XXXXXXXX', 200)],
    ['clickY', event('click', 3, 'imp-YYYYYYYY', 300)],
  ];
  const at: Record<string, number> = {};
  for (const [name, e] of events) at[name] = await log.append(encodeEvent(e));
  const db = await DuckDbDatabase.open(join(dir, 'adtally.duckdb'));
  await db.run(OLD_DDL);
  const rows: [number, string, number][] = [
    [KIND.click, 'imp-XXXXXXXX', at.clickX!],
    [KIND.impression, 'imp-XXXXXXXX', at.impressionX!],
    [KIND.click, 'imp-YYYYYYYY', at.clickY!],
    [KIND.click, 'imp-YYYYYYYY', at.clickY!], // its expiry extended: a second row
    [KIND.click, 'imp-STRAYSTR', at.impressionX!],
    [KIND.click, 'imp-GONEGONE', log.durableEnd() + 1_000],
  ];
  for (const [kind, imp, offset] of rows) {
    await db.run('INSERT INTO dedup_entries VALUES ($1, $2, $3, $4)', [kind, imp, BigInt(offset), EXPIRES]);
  }
  const store = await DuckDbAggregateStore.create(db);
  await store.commit('serve', {
    deltas: [],
    lateDeltas: [],
    dedupAdded: [],
    dedupExpireBefore: undefined,
    checkpoint: { offset: log.durableEnd(), maxEventTime: T + 300 },
  });
  return { dir, log, db, store, at };
}

async function storedAds(db: DuckDbDatabase): Promise<[number, string, number | null][]> {
  const rows = await db.all<{ kind: number; imp: string; ad: number | null }>(
    'SELECT kind, imp, ad FROM dedup_entries ORDER BY imp, kind',
  );
  return rows.map((r) => [r.kind, r.imp, r.ad]);
}

async function hasAdColumn(db: DuckDbDatabase): Promise<boolean> {
  const [row] = await db.all<{ n: bigint }>(
    "SELECT count(*) AS n FROM duckdb_columns() WHERE table_name = 'dedup_entries' AND column_name = 'ad'",
  );
  return Number(row!.n) > 0;
}

const MIGRATED: [number, string, number | null][] = [
  [KIND.click, 'imp-GONEGONE', null],
  [KIND.click, 'imp-STRAYSTR', null],
  [KIND.impression, 'imp-XXXXXXXX', 1],
  [KIND.click, 'imp-XXXXXXXX', 1],
  [KIND.click, 'imp-YYYYYYYY', 3],
  [KIND.click, 'imp-YYYYYYYY', 3],
];

describe('dedup_entries without ad (the imp-only release) migrate on start', () => {
  let f: Fixture;
  beforeEach(async () => {
    f = await oldDataDir();
  });
  afterEach(async () => {
    await f.log.close();
    await f.db.close();
    rmSync(f.dir, { recursive: true, force: true });
  });

  it('entries get the ad of the event at their first offset; then (ad, imp) decides', async () => {
    const metrics = new AggregationMetrics();
    const worker = await AggregationWorker.start({
      ...OPTIONS,
      log: f.log,
      store: f.store,
      dedup: new EmbeddedDedup(f.store),
      metrics,
      consumer: 'serve',
      flushIntervalMs: 1,
    });
    assert.deepEqual(await storedAds(f.db), MIGRATED);
    const gauge = await metrics.registry.getSingleMetricAsString('adtally_dedup_entries');
    assert.match(gauge, /^adtally_dedup_entries 5$/m, 'set by the restore, before any flush');

    // After the migration, with the new release.
    const newEvents = [
      event('click', 2, 'imp-XXXXXXXX', 400), // another ad: another impression, billable
      event('click', 1, 'imp-XXXXXXXX', 500), // the same impression again: duplicate
      event('click', 2, 'imp-XXXXXXXX', 600), // ad 2's second click: duplicate
      event('click', 3, 'imp-XXXXXXXX', 700), // a third ad: billable
      event('click', 7, 'imp-STRAYSTR', 800), // its entry matches any ad: duplicate, as before
      event('click', 3, 'imp-YYYYYYYY', 900), // duplicate
    ];
    for (const e of newEvents) await f.log.append(encodeEvent(e));
    const end = f.log.durableEnd();
    const deadline = Date.now() + 10_000;
    while (worker.committedOffset() < end && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    await worker.stop();
    const rows = await f.db.all<{ ad: number; clicks: number; dup: number }>(
      `SELECT ad, sum(clicks)::INTEGER AS clicks, sum(click_duplicate)::INTEGER AS dup
       FROM agg_minute GROUP BY ad ORDER BY ad`,
    );
    assert.deepEqual(
      rows.map((r) => [r.ad, r.clicks, r.dup]),
      [
        [1, 0, 1],
        [2, 1, 1],
        [3, 1, 1],
        [7, 0, 1],
      ],
    );
    const [{ n } = { n: 0n }] = await f.db.all<{ n: bigint }>(
      'SELECT count(*) AS n FROM dedup_entries WHERE ad IN (2, 3) AND imp = $1',
      ['imp-XXXXXXXX'],
    );
    assert.equal(Number(n), 2, 'the new entries are stored with their ad');
  });

  it('runs once: a second start finds the column and changes nothing', async () => {
    const read = logEventReader(f.log);
    assert.deepEqual(await migrateDedupAds(f.db, T, read), { entries: 5, withAd: 3 });
    await f.db.run('UPDATE dedup_entries SET ad = 9 WHERE ad IS NULL');
    assert.equal(await migrateDedupAds(f.db, T, read), undefined);
    assert.equal((await storedAds(f.db)).filter(([, , ad]) => ad === 9).length, 2);
  });

  it('a failure while reading the log leaves the old table, and the next start migrates', async () => {
    const read = logEventReader(f.log);
    let calls = 0;
    const failing: ReadEventAt = (offset) => {
      if (++calls === 3) return Promise.reject(new Error('injected read failure'));
      return read(offset);
    };
    await assert.rejects(migrateDedupAds(f.db, T, failing), /injected read failure/);
    assert.equal(await hasAdColumn(f.db), false);
    assert.ok(await migrateDedupAds(f.db, T, read));
    assert.deepEqual(await storedAds(f.db), MIGRATED);
  });

  it('a failure inside the transaction, after ALTER TABLE, rolls back to the old table', async () => {
    // The real database, with the fill statement failing: what a kill between ALTER and COMMIT leaves.
    const faulty = new Proxy(f.db, {
      get(target, key, receiver) {
        if (key !== 'transaction') return Reflect.get(target, key, receiver) as unknown;
        return (work: Parameters<DuckDbDatabase['transaction']>[0]) =>
          target.transaction((tx) =>
            work({
              append: (...a) => tx.append(...a),
              all: (...a) => tx.all(...a),
              run: (sql, ...rest) =>
                sql.startsWith('UPDATE') ? Promise.reject(new Error('injected kill')) : tx.run(sql, ...rest),
            }),
          );
      },
    });
    await assert.rejects(migrateDedupAds(faulty, T, logEventReader(f.log)), /injected kill/);
    assert.equal(await hasAdColumn(f.db), false);
    const [{ n } = { n: 0n }] = await f.db.all<{ n: bigint }>('SELECT count(*) AS n FROM dedup_entries');
    assert.equal(Number(n), 6, 'every old row is still there');
    assert.ok(await migrateDedupAds(f.db, T, logEventReader(f.log)));
    assert.deepEqual(await storedAds(f.db), MIGRATED);
  });

  it('leaves expired entries unread (ad NULL): they are never loaded again', async () => {
    await f.db.run('UPDATE dedup_entries SET expires_at = $1 WHERE imp = $2', [T - 1, 'imp-YYYYYYYY']);
    assert.deepEqual(await migrateDedupAds(f.db, T, logEventReader(f.log)), { entries: 4, withAd: 2 });
    const loaded = await f.store.loadDedup(T, logEventReader(f.log));
    assert.deepEqual(loaded.map((e) => [e.kind, e.ad, e.imp]).sort(), [
      ['click', 0, 'imp-GONEGONE'],
      ['click', 0, 'imp-STRAYSTR'],
      ['click', 1, 'imp-XXXXXXXX'],
      ['impression', 1, 'imp-XXXXXXXX'],
    ]);
  });
});
