import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { hourDir, hourOf } from '../src/archive/archive-layout.js';
import { emptyCounts } from '../src/aggregate/counts.js';
import { seededRandom } from '../src/domain/seeded-random.js';
import { syntheticArchivedEvents, writeArchiveFixture } from '../src/reconcile/archive-fixture.js';
import { DuckDbAggregateStore } from '../src/store/duckdb/duckdb-aggregate-store.js';
import { DuckDbDatabase } from '../src/store/duckdb/duckdb-database.js';
import { AdtallyProcess, makeDataDir, removeDir } from './support/adtally-process.js';

const DAY_MS = 86_400_000;

/** Minute rows of ad 1 in the store of `dataDir`, oldest first. */
async function storedMinutes(dataDir: string): Promise<number[]> {
  const db = await DuckDbDatabase.open(join(dataDir, 'adtally.duckdb'));
  try {
    const rows = await db.all<{ minute: number }>('SELECT "minute" FROM agg_minute ORDER BY "minute"');
    return rows.map((r) => Number(r.minute));
  } finally {
    await db.close();
  }
}

describe('--retention in serve (SPEC 5)', () => {
  it('deletes archive hours and aggregate minutes past their age in the background, and counts them', async () => {
    const dataDir = makeDataDir();
    try {
      const now = Date.now();
      const oldMs = now - 3 * DAY_MS;
      const recentMs = now - 3_600_000;
      const events = (startMs: number) =>
        syntheticArchivedEvents({ random: seededRandom(7), events: 50, startMs, stepMs: 1_000, ads: 3 });
      const archive = join(dataDir, 'archive');
      // Named as a partitioned log's files: serve's archiver (one partition) leaves them alone at its
      // start, where it removes its own files past its committed position (none here).
      await writeArchiveFixture(
        archive,
        [...events(oldMs), ...events(recentMs).map((e) => ({ ...e, offset: e.offset + 1_000 }))],
        { partitioned: true },
      );
      // The store as an earlier run left it: one minute three days old, one an hour old.
      const db = await DuckDbDatabase.open(join(dataDir, 'adtally.duckdb'));
      const store = await DuckDbAggregateStore.create(db);
      const minute = (ms: number) => Math.floor(ms / 60_000);
      const counts = { ...emptyCounts(), clicks: 2 };
      await store.replaceCounts([
        { ad: 1, minute: minute(oldMs), counts },
        { ad: 1, minute: minute(recentMs), counts },
      ]);
      await db.close();

      const server = await AdtallyProcess.start(dataDir, { args: ['--retention', 'raw=2d,aggregates=2d'] });
      let metrics = '';
      try {
        const deadline = Date.now() + 10_000;
        while (!/^adtally_retention_aggregate_rows_deleted_total 1$/m.test(metrics)) {
          assert.ok(Date.now() < deadline, `no retention pass within 10 s:\n${metrics}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
          metrics = await (await fetch(`${server.url}/metrics`)).text();
        }
        assert.match(metrics, /^adtally_retention_archive_partitions_deleted_total 1$/m);
        assert.match(metrics, /^adtally_retention_archive_bytes_deleted_total [1-9]\d*$/m);
      } finally {
        await server.stop();
      }
      assert.ok(!existsSync(hourDir(archive, hourOf(oldMs))), 'the old hour is gone');
      assert.ok(existsSync(hourDir(archive, hourOf(recentMs))), 'the recent hour stays');
      assert.deepEqual(await storedMinutes(dataDir), [minute(recentMs)]);
    } finally {
      removeDir(dataDir);
    }
  });

  it('refuses ages serve cannot keep its promises with, with exit 2', async () => {
    const { runCli } = await import('./support/adtally-process.js');
    for (const [value, reason] of [
      ['aggregates=1d', /aggregates must be at least 2d/],
      ['raw=1h', /raw must be at least 2d/],
      ['raw=90d,logs=1d', /expected raw=<duration> or aggregates=<duration>/],
    ] as const) {
      const run = await runCli(['serve', '--retention', value]);
      assert.equal(run.code, 2, value);
      assert.match(run.stderr, reason);
    }
  });
});
