import assert from 'node:assert/strict';
import { readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeTempDir } from '../../test/log/log-test-helpers.js';
import {
  countByKind,
  duplicatePositions,
  readArchive,
  readLogEvents,
} from '../../test/support/archive-reader.js';
import { makeEvent, mulberry32 } from '../aggregate/test-support.js';
import { encodeEvent, type TrackedEvent } from '../domain/event.js';
import { openFileEventLog } from '../log/file/file-event-log.js';
import type { EventLog } from '../log/event-log.js';
import { ArchiveMetrics } from '../metrics/archive-metrics.js';
import type { AggregateStore } from '../store/aggregate-store.js';
import { DuckDbAggregateStore } from '../store/duckdb/duckdb-aggregate-store.js';
import { DuckDbDatabase } from '../store/duckdb/duckdb-database.js';
import { archiveFileName, archiveTmpName, hourDir, hourOf } from './archive-layout.js';
import { Archiver, type ArchiveFileWriter, type ArchiverOptions } from './archiver.js';
import { ParquetArchiveWriter } from './parquet-writer.js';

const HOUR = 3_600_000;
/** Ads 1-4 are in the catalog (campaign 10 + ad, advertiser 100 + ad % 2); ad 99 is not. */
const ADS = [1, 2, 3, 4].map((id) => ({ id, campaignId: 10 + id, advertiserId: 100 + (id % 2) }));

/** Events over three hours, every outcome, some for an unknown ad, some late by an hour. */
function traffic(count: number, seed: number): TrackedEvent[] {
  const random = mulberry32(seed);
  const start = hourOf(Date.now()) - 2 * HOUR;
  const outcomes = ['ok', 'ok', 'ok', 'bad_signature', 'expired', 'bot', 'prefetch'] as const;
  return Array.from({ length: count }, (_, i) => {
    const late = random() < 0.1;
    const eventTime = start + Math.floor((i / count) * 3 * HOUR) - (late ? HOUR : 0);
    const unknown = random() < 0.05;
    return makeEvent({
      type: random() < 0.3 ? 'click' : 'impression',
      ad: unknown ? 99 : 1 + Math.floor(random() * 4),
      imp: `imp-${Math.floor(random() * count)}`,
      eventTime: Math.max(start - HOUR, eventTime),
      outcome: unknown ? 'unknown_ad' : outcomes[Math.floor(random() * outcomes.length)]!,
    });
  });
}

interface Setup {
  readonly dir: string;
  readonly root: string;
  readonly log: EventLog;
  readonly db: DuckDbDatabase;
  readonly store: DuckDbAggregateStore;
  readonly writer: ParquetArchiveWriter;
  readonly lines: string[];
  options(overrides?: Partial<ArchiverOptions>): ArchiverOptions;
  close(): Promise<void>;
}

async function setup(name: string): Promise<Setup> {
  const { dir, remove } = makeTempDir(`archiver-${name}`);
  const root = join(dir, 'archive');
  const log = await openFileEventLog(join(dir, 'log'));
  const db = await DuckDbDatabase.open(join(dir, 'store.duckdb'));
  const store = await DuckDbAggregateStore.create(db);
  const writer = await ParquetArchiveWriter.open();
  const lines: string[] = [];
  return {
    dir,
    root,
    log,
    db,
    store,
    writer,
    lines,
    options: (overrides = {}) => ({
      log,
      store,
      loadAds: () => Promise.resolve(ADS),
      writer,
      root,
      consumer: 'archive',
      rollIntervalMs: 60_000,
      rollBytes: 64 * 1024 * 1024,
      metrics: new ArchiveMetrics(),
      retryDelayMs: 20,
      idlePollMs: 5,
      print: (line) => lines.push(line),
      ...overrides,
    }),
    close: async () => {
      writer.close();
      await log.close();
      await db.close();
      remove();
    },
  };
}

async function append(log: EventLog, events: readonly TrackedEvent[]): Promise<void> {
  await Promise.all(events.map((e) => log.append(encodeEvent(e))));
}

/** The archive holds exactly the log's events: same positions, same kinds, no duplicate. */
async function assertArchiveEqualsLog(s: Setup): Promise<void> {
  const rows = await readArchive(s.root);
  const logged = await readLogEvents(s.log);
  assert.deepEqual(duplicatePositions(rows), []);
  assert.deepEqual(
    rows.map((r) => r.offset),
    logged.map((l) => l.offset),
  );
  assert.deepEqual(
    countByKind(rows),
    countByKind(logged.map(({ event }) => ({ type: event.type, outcome: event.outcome }))),
  );
}

const tmpFiles = (root: string): string[] =>
  readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.tmp'));

void test('every event goes into the file of its event hour, with its ad owner, readable with hive partitioning', async () => {
  const s = await setup('layout');
  try {
    const events = traffic(3_000, 1);
    await append(s.log, events);
    const archiver = await Archiver.start(s.options());
    await archiver.stop();
    assert.equal(archiver.committedOffset(), s.log.durableEnd());
    await assertArchiveEqualsLog(s);
    const rows = await readArchive(s.root);
    const logged = await readLogEvents(s.log);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      const { event } = logged[i]!;
      assert.equal(row.eventTimeMs, event.eventTime);
      assert.equal(row.imp, event.imp);
      const iso = new Date(hourOf(event.eventTime)).toISOString();
      assert.equal(row.dt, iso.slice(0, 10));
      assert.equal(row.hour, Number(iso.slice(11, 13)));
      const owner = ADS.find((ad) => ad.id === event.ad);
      assert.equal(row.campaign, owner?.campaignId ?? null);
      assert.equal(row.advertiser, owner?.advertiserId ?? null);
    }
    // One roll: one file per hour, named by the first and last offsets of its rows.
    const hours = [...new Set(logged.map(({ event }) => hourOf(event.eventTime)))];
    for (const hour of hours) {
      const inHour = logged.filter(({ event }) => hourOf(event.eventTime) === hour);
      const name = archiveFileName({
        partition: undefined,
        first: inHour[0]!.offset,
        last: inHour[inHour.length - 1]!.offset,
      });
      assert.deepEqual(readdirSync(hourDir(s.root, hour)), [name]);
    }
    const checkpoint = await s.store.loadCheckpoint('archive');
    assert.equal(checkpoint?.offset, s.log.durableEnd());
  } finally {
    await s.close();
  }
});

void test('a crash between the rename and the commit leaves files the rerun replaces: no duplicate, no loss', async () => {
  const s = await setup('crash');
  try {
    await append(s.log, traffic(1_000, 2));
    // First run commits once.
    const first = await Archiver.start(s.options());
    await first.stop();
    const committed = first.committedOffset();
    await append(s.log, traffic(1_500, 3));
    // Second run: its files are renamed, then the process "dies" before the commit lands.
    const dying: Pick<AggregateStore, 'loadCheckpoint' | 'commit'> = {
      loadCheckpoint: (c) => s.store.loadCheckpoint(c),
      commit: () => Promise.reject(new Error('killed before the commit')),
    };
    const second = await Archiver.start(s.options({ store: dying, retryDelayMs: 60_000 }));
    const flushed = second.flushNow().catch(() => 'not flushed');
    for (let i = 0; second.committedOffset() === committed && i < 200; i++) {
      await second.check().then(
        () => sleep(10),
        () => (i = 1_000),
      );
    }
    await second.abandon();
    assert.equal(await flushed, 'not flushed');
    // The uncommitted files are there, plus a stray .tmp a kill during COPY would leave.
    const rowsBefore = await readArchive(s.root);
    assert.ok(rowsBefore.length > 1_000, `uncommitted files on disk: ${rowsBefore.length} rows`);
    const strayHour = hourDir(s.root, hourOf(Date.now()));
    mkdirSync(strayHour, { recursive: true });
    writeFileSync(
      join(
        strayHour,
        archiveTmpName(archiveFileName({ partition: undefined, first: committed, last: committed + 1 })),
      ),
      'torn',
    );
    // The rerun deletes them and writes the range again.
    const third = await Archiver.start(s.options());
    assert.ok(
      s.lines.some((l) => /removed \d+ uncommitted archive file/.test(l)),
      s.lines.join('\n'),
    );
    await third.stop();
    assert.deepEqual(tmpFiles(s.root), []);
    await assertArchiveEqualsLog(s);
  } finally {
    await s.close();
  }
});

void test('a disk fault in a roll is reported, retried from the last commit, and loses nothing', async () => {
  const s = await setup('fault');
  try {
    await append(s.log, traffic(2_000, 4));
    let failures = 2;
    const flaky: ArchiveFileWriter = {
      write: async (path, rows) => {
        if (failures-- > 0) {
          // Half the hours of the roll are on disk already when the disk fills.
          throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        }
        return s.writer.write(path, rows);
      },
    };
    const metrics = new ArchiveMetrics();
    const archiver = await Archiver.start(s.options({ writer: flaky, metrics, rollIntervalMs: 0 }));
    let reported = false;
    for (let i = 0; i < 500 && archiver.committedOffset() < s.log.durableEnd(); i++) {
      await archiver.check().catch(() => (reported = true));
      await sleep(5);
    }
    assert.ok(reported, 'the fault showed on check()');
    assert.equal(await archiver.flushNow(), s.log.durableEnd());
    await archiver.check();
    await archiver.stop();
    // A flush that cannot complete says why, in time.
    const stuck = await Archiver.start(
      s.options({
        writer: { write: () => Promise.reject(new Error('EIO: i/o error')) },
        store: { loadCheckpoint: () => Promise.resolve(undefined), commit: () => Promise.resolve() },
        root: join(s.dir, 'stuck'),
        consumer: 'stuck',
      }),
    );
    await assert.rejects(stuck.flushNow(300), (err: Error) => {
      assert.equal(err.name, 'ArchiveFlushTimeoutError');
      assert.match(
        err.message,
        /did not reach log offset \d+ within 300 ms \(committed 0; failing: EIO: i\/o error\)/,
      );
      return true;
    });
    await stuck.abandon();
    assert.equal((await metrics.faults.get()).values[0]?.value, 2);
    await assertArchiveEqualsLog(s);
  } finally {
    await s.close();
  }
});

void test('rolls by size within the memory budget, and flushNow covers what was durable when asked', async () => {
  const s = await setup('roll');
  try {
    const metrics = new ArchiveMetrics();
    const archiver = await Archiver.start(s.options({ metrics, rollBytes: 200 * 1024 }));
    await append(s.log, traffic(4_000, 5));
    const committed = await archiver.flushNow();
    assert.ok(committed >= s.log.durableEnd());
    await append(s.log, traffic(500, 6));
    assert.equal(await archiver.flushNow(), s.log.durableEnd());
    await archiver.stop();
    // 4,500 rows at >= 300 bytes each against a 200 KiB budget: several rolls, so several files per hour.
    assert.ok((await metrics.files.get()).values[0]!.value > 6);
    await assertArchiveEqualsLog(s);
  } finally {
    await s.close();
  }
});

void test('an archiver fenced by a new owner of its partition takes back its files; the owner archives them once', async () => {
  const s = await setup('fence');
  try {
    await append(s.log, traffic(1_000, 7));
    const consumer = 'archive/events/0';
    const zombieEpoch = await s.store.claimOwnership(consumer);
    let fenced = false;
    const zombie = await Archiver.start(
      s.options({ consumer, partition: 0, epoch: zombieEpoch, onFenced: () => (fenced = true) }),
    );
    const ownerEpoch = await s.store.claimOwnership(consumer);
    const owner = await Archiver.start(s.options({ consumer, partition: 0, epoch: ownerEpoch }));
    await zombie.stop();
    assert.ok(fenced, s.lines.join('\n'));
    await owner.stop();
    const rows = await readArchive(s.root);
    assert.deepEqual(duplicatePositions(rows), []);
    assert.equal(rows.length, (await readLogEvents(s.log)).length);
    assert.ok(rows.every((r) => r.partition === 0));
  } finally {
    await s.close();
  }
});

void test('a catalog ad created after the archiver started is found by reloading the catalog', async () => {
  const s = await setup('catalog');
  try {
    const ads = [...ADS];
    let loads = 0;
    const archiver = await Archiver.start(
      s.options({
        rollIntervalMs: 0,
        loadAds: () => {
          loads++;
          return Promise.resolve([...ads]);
        },
      }),
    );
    await append(s.log, [makeEvent({ type: 'click', ad: 1, imp: 'imp-first', eventTime: Date.now() })]);
    await archiver.flushNow();
    ads.push({ id: 5, campaignId: 15, advertiserId: 105 });
    await append(s.log, [makeEvent({ type: 'click', ad: 5, imp: 'imp-new-ad', eventTime: Date.now() })]);
    await archiver.stop();
    const rows = await readArchive(s.root);
    assert.deepEqual(
      rows.map((r) => [r.ad, r.campaign, r.advertiser]),
      [
        [1, 11, 101],
        [5, 15, 105],
      ],
    );
    assert.equal(loads, 2);
  } finally {
    await s.close();
  }
});
