import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { minuteOf } from '../aggregate/minute.js';
import { seededRandom } from '../domain/seeded-random.js';
import { streamCounts, syntheticArchivedEvents, writeArchiveFixture } from '../reconcile/archive-fixture.js';
import { ReconcileRunner } from '../reconcile/reconcile-runner.js';
import { DuckDbAggregateStore } from '../store/duckdb/duckdb-aggregate-store.js';
import { DuckDbDatabase } from '../store/duckdb/duckdb-database.js';
import type { BenchContext } from './scenarios.js';

export interface ReconcileBenchRun {
  /** Events of the reconciled hour in the archive. */
  readonly events: number;
  readonly archiveRows: number;
  readonly minutesChecked: number;
  readonly repaired: number;
  readonly wallSeconds: number;
  readonly secondsPerMillion: number;
}

const OPTIONS = { allowedLatenessMs: 5_000, clickTtlMs: 24 * 3_600_000 };
const HOUR = Date.UTC(2026, 10, 24, 10);

/**
 * `reconcile`: one hour of synthetic events (10,000 ads, 20% repeats, 5%
 * invalid, 1% late batch lines, some forwarded copies) written as archive
 * Parquet files, the store left as the stream leaves it, then the whole job
 * timed on that hour: snapshot, archive read with the dedup context,
 * recompute, compare, repair (the late rows), report.
 */
/**
 * The archive files of the hour and the store as the stream leaves it, in
 * `dir`; the events themselves are dropped before anything is timed (their
 * million objects would bill the job's garbage collections).
 */
async function prepareHour(dir: string, events: number): Promise<void> {
  const archived = syntheticArchivedEvents({
    random: seededRandom(42),
    events,
    startMs: HOUR,
    stepMs: 3_600_000 / events,
    ads: 10_000,
    repeatRate: 0.2,
    invalidRate: 0.05,
    lateRate: 0.01,
    copyRate: 0.001,
  });
  await writeArchiveFixture(join(dir, 'archive'), archived);
  const stream = streamCounts(archived, OPTIONS);
  const db = await DuckDbDatabase.open(join(dir, 'store.duckdb'));
  try {
    const store = await DuckDbAggregateStore.create(db);
    await store.commit('serve', {
      deltas: [...stream.serving.values()],
      lateDeltas: [...stream.late.values()],
      dedupAdded: [],
      dedupExpireBefore: undefined,
      checkpoint: stream.checkpoints.get(0)!,
    });
  } finally {
    await db.close();
  }
}

export async function reconcileBench(ctx: BenchContext): Promise<ReconcileBenchRun[]> {
  const events = ctx.plan.reconcileEvents;
  const dir = await mkdtemp(join(tmpdir(), 'adtally-bench-reconcile-'));
  try {
    await prepareHour(dir, events);
    const runs: ReconcileBenchRun[] = [];
    for (let run = 1; run <= ctx.plan.runs; run++) {
      // Each run repairs a copy of the store as the stream left it.
      await copyFile(join(dir, 'store.duckdb'), join(dir, `store-${run}.duckdb`));
      const db = await DuckDbDatabase.open(join(dir, `store-${run}.duckdb`));
      try {
        const store = await DuckDbAggregateStore.create(db);
        const runner = new ReconcileRunner({
          ...OPTIONS,
          store,
          archiveRoot: join(dir, 'archive'),
          tempDir: join(dir, 'tmp'),
          consumerPrefix: 'serve',
          partitionOf: () => 0,
          ensureArchived: () => Promise.resolve(),
          reportDir: join(dir, 'reports'),
        });
        const started = performance.now();
        const { report } = await runner.run(minuteOf(HOUR), minuteOf(HOUR) + 60);
        const wallSeconds = (performance.now() - started) / 1000;
        runs.push({
          events,
          archiveRows: report.archiveRows,
          minutesChecked: report.minutesChecked,
          repaired: report.repaired,
          wallSeconds,
          secondsPerMillion: (wallSeconds * 1_000_000) / events,
        });
        ctx.progress(
          `reconcile run ${run}: ${events} events in ${wallSeconds.toFixed(2)} s ` +
            `(${((wallSeconds * 1e6) / events).toFixed(2)} s per million), ${report.minutesChecked} minutes checked`,
        );
      } finally {
        await db.close();
      }
    }
    return runs;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
