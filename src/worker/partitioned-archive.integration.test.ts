import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeTempDir } from '../../test/log/log-test-helpers.js';
import { duplicatePositions, readArchive, readLogEvents } from '../../test/support/archive-reader.js';
import { makeEvent, mulberry32 } from '../aggregate/test-support.js';
import { ParquetArchiveWriter } from '../archive/parquet-writer.js';
import { encodeEvent } from '../domain/event.js';
import { openFileEventLog } from '../log/file/file-event-log.js';
import { ArchiveMetrics } from '../metrics/archive-metrics.js';
import { openServingStore } from '../store/open-store.js';
import { createFreshDatabase } from '../store/postgres/fresh-test-database.js';
import { PartitionedArchive } from './partitioned-archive.js';

void test('partition archivers on PostgreSQL: a revoked lease is abandoned, the next owner archives every event once', async () => {
  const { dir, remove } = makeTempDir('partitioned-archive');
  const database = await createFreshDatabase('archive');
  const log = await openFileEventLog(join(dir, 'log'));
  const store = await openServingStore(database.url);
  const writer = await ParquetArchiveWriter.open();
  const root = join(dir, 'archive');
  const lines: string[] = [];
  const archive = (): PartitionedArchive =>
    new PartitionedArchive({
      store: store.aggregates,
      loadAds: () => Promise.resolve([{ id: 1, campaignId: 7, advertiserId: 3 }]),
      writer,
      root,
      topic: 'events',
      rollIntervalMs: 50,
      rollBytes: 64 * 1024 * 1024,
      metrics: new ArchiveMetrics(),
      retryDelayMs: 20,
      log: (line) => lines.push(line),
    });
  try {
    const random = mulberry32(3);
    const append = async (n: number): Promise<void> => {
      const now = Date.now();
      await Promise.all(
        Array.from({ length: n }, (_, i) =>
          log.append(
            encodeEvent(
              makeEvent({
                type: random() < 0.3 ? 'click' : 'impression',
                ad: 1,
                imp: `imp${i}`,
                eventTime: now - i,
              }),
            ),
          ),
        ),
      );
    };
    await append(1_000);
    const first = archive();
    const revoke = new AbortController();
    first.assign({ partition: 2, reader: log, revoked: revoke.signal });
    for (
      let i = 0;
      (await store.aggregates.loadCheckpoint('archive/events/2'))?.offset !== log.durableEnd();
      i++
    ) {
      if (i > 200) assert.fail(`the first owner did not commit: ${lines.join('\n')}`);
      await sleep(20);
    }
    // More events, then the lease goes: what the first owner read since its last roll is the next owner's.
    await append(500);
    revoke.abort();
    const second = archive();
    second.assign({ partition: 2, reader: log, revoked: new AbortController().signal });
    await first.close();
    for (
      let i = 0;
      (await store.aggregates.loadCheckpoint('archive/events/2'))?.offset !== log.durableEnd();
      i++
    ) {
      if (i > 200) assert.fail(`the second owner did not commit: ${lines.join('\n')}`);
      await sleep(20);
    }
    await second.check();
    await second.close();
    const rows = await readArchive(root);
    assert.deepEqual(duplicatePositions(rows), []);
    assert.deepEqual(
      rows.map((r) => r.offset),
      (await readLogEvents(log)).map((e) => e.offset),
    );
    assert.ok(rows.every((r) => r.partition === 2 && r.campaign === 7 && r.advertiser === 3));
    // Not under `events/`, which the aggregation's watermark lists.
    assert.deepEqual(await store.aggregates.listCheckpoints('events/'), []);
  } finally {
    writer.close();
    await store.close();
    await log.close();
    await database.drop();
    remove();
  }
});
