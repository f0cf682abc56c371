import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { addCounts, emptyCounts, isZeroCounts } from '../aggregate/counts.js';
import { minuteOf } from '../aggregate/minute.js';
import type { ArchivedEvent } from '../archive/archive-schema.js';
import { seededRandom } from '../domain/seeded-random.js';
import type { AggregateStore, MinuteDelta } from '../store/aggregate-store.js';
import { DuckDbAggregateStore } from '../store/duckdb/duckdb-aggregate-store.js';
import { DuckDbDatabase } from '../store/duckdb/duckdb-database.js';
import { createFreshDatabase } from '../store/postgres/fresh-test-database.js';
import { PostgresAggregateStore } from '../store/postgres/postgres-aggregate-store.js';
import { PostgresDatabase } from '../store/postgres/postgres-database.js';
import { streamCounts, syntheticArchivedEvents, writeArchiveFixture } from './archive-fixture.js';
import { ReconcileRunner } from './reconcile-runner.js';

const OPTIONS = { allowedLatenessMs: 5_000, clickTtlMs: 3_600_000 };
const START = Date.UTC(2026, 10, 24, 9, 0);
const FROM = minuteOf(Date.UTC(2026, 10, 24, 10, 0));
const TO = FROM + 120;

interface Backend {
  readonly name: string;
  /** The consumer of a partition, and the prefix naming them all. */
  readonly consumer: (partition: number) => string;
  readonly prefix: string;
  readonly partitions: number;
  open(): Promise<{ store: AggregateStore; late(): Promise<MinuteDelta[]>; close(): Promise<void> }>;
}

const dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'adtally-reconcile-'));
  dirs.push(dir);
  return dir;
};
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.splice(0)) await c();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const lateRowsOf = (rows: Record<string, number | bigint>[]): MinuteDelta[] =>
  rows.map((row) => {
    const counts = emptyCounts();
    for (const [k, v] of Object.entries(row)) {
      const field = k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof typeof counts;
      if (field in counts) counts[field] = Number(v);
    }
    return { ad: Number(row.ad), minute: Number(row.minute), counts };
  });

const BACKENDS: Backend[] = [
  {
    name: 'DuckDB (serve)',
    consumer: () => 'serve',
    prefix: 'serve',
    partitions: 1,
    async open() {
      const db = await DuckDbDatabase.open(join(tempDir(), 'store.duckdb'));
      const store = await DuckDbAggregateStore.create(db);
      return {
        store,
        late: async () => lateRowsOf(await db.all('SELECT * FROM agg_late ORDER BY ad, "minute"')),
        close: () => db.close(),
      };
    },
  },
  {
    name: 'PostgreSQL (3 partitions)',
    consumer: (p) => `ev/${p}`,
    prefix: 'ev/',
    partitions: 3,
    async open() {
      const database = await createFreshDatabase('reconcile');
      const db = await PostgresDatabase.open(database.url);
      const store = await PostgresAggregateStore.create(db);
      cleanups.push(() => database.drop());
      return {
        store,
        late: async () => lateRowsOf(await db.query('SELECT * FROM agg_late ORDER BY ad, minute')),
        close: () => db.close(),
      };
    },
  },
];

/** The store as the stream leaves it after `events`, and the archive holding them. */
async function setUp(backend: Backend, events: readonly ArchivedEvent[]) {
  const opened = await backend.open();
  cleanups.unshift(() => opened.close());
  const { serving, late, checkpoints } = streamCounts(events, OPTIONS);
  for (const [partition, checkpoint] of checkpoints) {
    const mine = (d: MinuteDelta): boolean => d.ad % backend.partitions === partition;
    await opened.store.commit(backend.consumer(partition), {
      deltas: [...serving.values()].filter(mine),
      lateDeltas: [...late.values()].filter(mine),
      dedupAdded: [],
      dedupExpireBefore: undefined,
      checkpoint,
    });
  }
  const archive = tempDir();
  await writeArchiveFixture(archive, events, { partitioned: backend.partitions > 1 });
  const reportDir = tempDir();
  const runner = new ReconcileRunner({
    ...OPTIONS,
    store: opened.store,
    archiveRoot: archive,
    tempDir: tempDir(),
    consumerPrefix: backend.prefix,
    partitionOf: (consumer) => (backend.partitions === 1 ? 0 : Number(consumer.split('/')[1])),
    ensureArchived: () => Promise.resolve(),
    reportDir,
  });
  return { ...opened, serving, streamLate: late, runner };
}

/** Every stored minute of the range as `${ad}:${minute}` -> counts, zeros left out. */
async function stored(store: AggregateStore, ads: number): Promise<Map<string, MinuteDelta>> {
  const out = new Map<string, MinuteDelta>();
  for (let ad = 1; ad <= ads; ad++) {
    for (const row of await store.series([ad], FROM - 60, TO + 60, 1)) {
      if (!isZeroCounts(row.counts))
        out.set(`${ad}:${row.minute}`, { ad, minute: row.minute, counts: row.counts });
    }
  }
  return out;
}

const ADS = 8;
const eventsOf = (seed: number, partitions: number, lateRate: number): ArchivedEvent[] =>
  syntheticArchivedEvents({
    random: seededRandom(seed),
    events: 16_000,
    startMs: START,
    stepMs: 900,
    ads: ADS,
    partitions,
    repeatRate: 0.3,
    invalidRate: 0.15,
    lateRate,
  });

for (const backend of BACKENDS) {
  describe(`reconcile on ${backend.name}`, () => {
    it('repairs drift exactly where it was injected and lists exactly those minutes; a second run changes nothing', async () => {
      const t = await setUp(backend, eventsOf(5, backend.partitions, 0));
      const clean = await stored(t.store, ADS);
      const inRange = [...clean.values()].filter((d) => d.minute >= FROM && d.minute < TO);
      const changed = inRange[3]!;
      const removed = inRange[40]!;
      // Drift: a row added where the archive has nothing, one removed, one counter changed.
      const added: MinuteDelta = { ad: ADS + 3, minute: FROM + 7, counts: { ...emptyCounts(), clicks: 4 } };
      await t.store.replaceCounts([
        added,
        { ad: removed.ad, minute: removed.minute, counts: emptyCounts() },
        {
          ad: changed.ad,
          minute: changed.minute,
          counts: { ...changed.counts, clickBot: changed.counts.clickBot + 5 },
        },
      ]);
      // Drift outside the range is not this run's to repair.
      const outside: MinuteDelta = { ad: 1, minute: TO + 5, counts: { ...emptyCounts(), impressions: 99 } };
      await t.store.replaceCounts([outside]);

      const run = await t.runner.run(FROM, TO);
      const injected = [added, removed, changed]
        .map((d) => ({ ad: d.ad, minute: new Date(d.minute * 60_000).toISOString() }))
        .sort((a, b) => a.minute.localeCompare(b.minute) || a.ad - b.ad);
      assert.deepEqual(run.report.repairedMinutes, injected);
      assert.equal(run.report.repaired, 3);
      assert.equal(run.report.equal, run.report.minutesChecked - 3);
      assert.deepEqual(
        run.report.largestDifferences.map((d) => [d.ad, d.field, d.before, d.after]).sort(),
        [
          [added.ad, 'clicks', 4, 0],
          [changed.ad, 'clickBot', changed.counts.clickBot + 5, changed.counts.clickBot],
          ...Object.entries(removed.counts)
            .filter(([, v]) => v !== 0)
            .map(([field, v]: [string, number]): (string | number)[] => [removed.ad, field, 0, v]),
        ].sort(),
      );
      const expected = new Map(clean);
      expected.set(`${outside.ad}:${outside.minute}`, outside);
      assert.deepEqual(await stored(t.store, ADS + 3), expected);
      const onDisk = JSON.parse(readFileSync(run.file, 'utf8')) as typeof run.report;
      assert.deepEqual(onDisk.repairedMinutes, injected);
      assert.ok(run.table.includes('repaired            3'), run.table);

      const second = await t.runner.run(FROM, TO);
      assert.equal(second.report.repaired, 0);
      assert.equal(second.report.equal, second.report.minutesChecked);
      assert.deepEqual(await stored(t.store, ADS + 3), expected);
    });

    it('folds the late events of final minutes into the counts, and leaves agg_late empty', async () => {
      const t = await setUp(backend, eventsOf(8, backend.partitions, 0.04));
      const lateInRange = [...t.streamLate.values()].filter((d) => d.minute >= FROM && d.minute < TO);
      assert.ok(lateInRange.length > 5, `late rows in range: ${lateInRange.length}`);
      const run = await t.runner.run(FROM, TO);
      let lateEvents = 0;
      for (const d of lateInRange) for (const v of Object.values(d.counts)) lateEvents += v;
      assert.equal(run.report.lateEventsFolded, lateEvents);
      assert.deepEqual(
        run.report.repairedMinutes.map((m) => `${m.ad}:${Date.parse(m.minute) / 60_000}`).sort(),
        lateInRange.map((d) => `${d.ad}:${d.minute}`).sort(),
      );
      // Serving + late, as one clean count of every event.
      const expected = new Map<string, MinuteDelta>();
      for (const d of [...t.serving.values(), ...lateInRange]) {
        const key = `${d.ad}:${d.minute}`;
        const known =
          expected.get(key) ??
          expected.set(key, { ad: d.ad, minute: d.minute, counts: emptyCounts() }).get(key)!;
        addCounts(known.counts, d.counts);
      }
      for (const [key, d] of expected) if (isZeroCounts(d.counts)) expected.delete(key);
      assert.deepEqual(await stored(t.store, ADS), expected);
      assert.deepEqual(
        (await t.late()).filter((d) => d.minute >= FROM && d.minute < TO),
        [],
      );
      assert.equal((await t.runner.run(FROM, TO)).report.repaired, 0);
    });

    it('refuses to touch counts no consumer of its prefix made (a wrong topic)', async () => {
      const t = await setUp(backend, eventsOf(13, backend.partitions, 0));
      const before = await stored(t.store, ADS);
      const wrong = new ReconcileRunner({
        ...OPTIONS,
        store: t.store,
        archiveRoot: tempDir(),
        tempDir: tempDir(),
        consumerPrefix: 'other-topic/',
        partitionOf: () => 0,
        ensureArchived: () => Promise.resolve(),
        reportDir: tempDir(),
      });
      await assert.rejects(wrong.run(FROM, TO), /no aggregation consumer named other-topic\/\.\.\./);
      assert.deepEqual(await stored(t.store, ADS), before);
    });

    it('takes a new snapshot when a consumer whose minutes were not final moved before the repair', async () => {
      const t = await setUp(backend, eventsOf(11, backend.partitions, 0));
      const consumer = backend.consumer(0);
      const checkpoint = await t.store.loadCheckpoint(consumer);
      // The consumer's watermark leaves the range's last minutes open, and a commit lands
      // between the first snapshot and its repair: that repair must be refused.
      const commitAt = (offset: number): Promise<void> =>
        t.store.commit(consumer, {
          deltas: [],
          lateDeltas: [],
          dedupAdded: [],
          dedupExpireBefore: undefined,
          checkpoint: { offset, maxEventTime: TO * 60_000 - 60_000 },
        });
      await commitAt(checkpoint!.offset);
      let moved = false;
      const racing: AggregateStore = Object.assign(Object.create(t.store) as AggregateStore, {
        repair: async (repair: Parameters<AggregateStore['repair']>[0]) => {
          if (!moved) {
            moved = true;
            await commitAt(checkpoint!.offset + 1);
          }
          return t.store.repair(repair);
        },
      });
      const runner = new ReconcileRunner({
        ...OPTIONS,
        store: racing,
        archiveRoot: tempDir(),
        tempDir: tempDir(),
        consumerPrefix: backend.prefix,
        partitionOf: (c) => (backend.partitions === 1 ? 0 : Number(c.split('/')[1])),
        ensureArchived: () => Promise.resolve(),
        reportDir: tempDir(),
      });
      // An hour whose checkpoint watermark (set above) is not past its end.
      const run = await runner.run(TO - 60, TO);
      assert.ok(moved);
      assert.deepEqual(
        run.report.hours.map((h) => h.retries),
        [1],
      );
    });
  });
}
