import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AggregationWorker } from '../aggregate/aggregation-worker.js';
import { EmbeddedDedup } from '../dedup/embedded-dedup.js';
import { openFileEventLog } from '../log/file/file-event-log.js';
import { AggregationMetrics } from '../metrics/aggregation-metrics.js';
import { DuckDbAggregateStore } from '../store/duckdb/duckdb-aggregate-store.js';
import { DuckDbDatabase } from '../store/duckdb/duckdb-database.js';
import { syntheticRecords } from './synthetic-events.js';

export interface ReplayResult {
  readonly events: number;
  readonly wallSeconds: number;
  /** CPU seconds of this process (main thread and DuckDB's threads together). */
  readonly cpuSeconds: number;
  readonly eventsPerSecond: number;
  readonly eventsPerCpuSecond: number;
}

/** A file log of synthetic events, written once and replayed by several runs. */
export interface StoredLog {
  readonly dir: string;
  readonly events: number;
  dispose(): Promise<void>;
}

/**
 * Writes `events` synthetic records (10,000 ads, Zipf skew, 20% duplicates,
 * 5% invalid) to a file log in a fresh directory.
 */
export async function writeSyntheticLog(events: number, ads = 10_000): Promise<StoredLog> {
  const dir = await mkdtemp(join(tmpdir(), 'adtally-replay-'));
  const log = await openFileEventLog(join(dir, 'log'));
  const traffic = {
    ads,
    startMs: Date.now() - 3_600_000,
    eventsPerSecond: 2_000,
    duplicateRate: 0.2,
    invalidRate: 0.05,
    seed: 42,
  };
  let pending: Promise<number>[] = [];
  for (const record of syntheticRecords(traffic, events)) {
    pending.push(log.append(record));
    if (pending.length === 50_000) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
  await log.close();
  return { dir, events, dispose: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * The `aggregate` scenario: times a fresh aggregation worker consuming the
 * whole log from disk into a fresh DuckDB store (counts, dedup entries and
 * offsets committed as in `serve`).
 */
export async function replayAggregate(stored: StoredLog): Promise<ReplayResult> {
  const log = await openFileEventLog(join(stored.dir, 'log'));
  const storePath = join(stored.dir, `replay-${Date.now()}.duckdb`);
  const db = await DuckDbDatabase.open(storePath);
  try {
    const end = log.durableEnd();
    const store = await DuckDbAggregateStore.create(db);
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const worker = await AggregationWorker.start({
      log,
      store,
      dedup: new EmbeddedDedup(store),
      metrics: new AggregationMetrics(),
      consumer: 'replay',
      allowedLatenessMs: 5_000,
      clickTtlMs: 86_400_000,
      flushIntervalMs: 1_000,
    });
    while (worker.committedOffset() < end) await new Promise((r) => setTimeout(r, 20));
    const wallSeconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    await worker.stop();
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    return {
      events: stored.events,
      wallSeconds,
      cpuSeconds,
      eventsPerSecond: stored.events / wallSeconds,
      eventsPerCpuSecond: stored.events / cpuSeconds,
    };
  } finally {
    await log.close();
    await db.close();
    await rm(storePath, { force: true });
    await rm(`${storePath}.wal`, { force: true });
  }
}
