import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Archiver } from '../archive/archiver.js';
import { ParquetArchiveWriter } from '../archive/parquet-writer.js';
import { DEFAULT_ARCHIVE_ROLL_BYTES, DEFAULT_ARCHIVE_ROLL_INTERVAL_MS } from '../config/archive-settings.js';
import { openFileEventLog } from '../log/file/file-event-log.js';
import { ArchiveMetrics } from '../metrics/archive-metrics.js';
import { DuckDbAggregateStore } from '../store/duckdb/duckdb-aggregate-store.js';
import { DuckDbDatabase } from '../store/duckdb/duckdb-database.js';
import type { StoredLog } from './replay-aggregate.js';

export interface ArchiveReplayResult {
  readonly events: number;
  readonly wallSeconds: number;
  /** CPU seconds of this process (the archiver and DuckDB's threads together). */
  readonly cpuSeconds: number;
  readonly eventsPerSecond: number;
  readonly eventsPerCpuSecond: number;
  readonly files: number;
  readonly bytes: number;
  /** Parquet bytes on disk per archived event. */
  readonly bytesPerEvent: number;
}

const counter = async (metric: ArchiveMetrics['files']): Promise<number> =>
  (await metric.get()).values[0]?.value ?? 0;

/**
 * The `archive` scenario: times a fresh archiver copying the whole stored
 * log into a fresh archive, with serve's roll settings (so files are closed
 * by the 64 MiB budget, as during a replay), its position committed in a
 * DuckDB store as in `serve`. Ads map to 100 campaigns of 10 advertisers.
 */
export async function replayArchive(stored: StoredLog, ads = 10_000): Promise<ArchiveReplayResult> {
  const log = await openFileEventLog(join(stored.dir, 'log'));
  const run = `archive-${Date.now()}`;
  const storePath = join(stored.dir, `${run}.duckdb`);
  const root = join(stored.dir, run);
  const db = await DuckDbDatabase.open(storePath);
  const writer = await ParquetArchiveWriter.open();
  const catalog = Array.from({ length: ads }, (_, i) => ({
    id: i + 1,
    campaignId: 1 + (i % 100),
    advertiserId: 1 + (i % 10),
  }));
  try {
    const end = log.durableEnd();
    const store = await DuckDbAggregateStore.create(db);
    const metrics = new ArchiveMetrics();
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const archiver = await Archiver.start({
      log,
      store,
      loadAds: () => Promise.resolve(catalog),
      writer,
      root,
      consumer: 'archive',
      rollIntervalMs: DEFAULT_ARCHIVE_ROLL_INTERVAL_MS,
      rollBytes: DEFAULT_ARCHIVE_ROLL_BYTES,
      metrics,
      idlePollMs: 5,
    });
    await archiver.flushNow();
    const wallSeconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    await archiver.stop();
    if (archiver.committedOffset() < end) throw new Error('the archiver did not reach the end of the log');
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const events = await counter(metrics.events);
    const bytes = await counter(metrics.bytes);
    return {
      events,
      wallSeconds,
      cpuSeconds,
      eventsPerSecond: events / wallSeconds,
      eventsPerCpuSecond: events / cpuSeconds,
      files: await counter(metrics.files),
      bytes,
      bytesPerEvent: bytes / events,
    };
  } finally {
    writer.close();
    await log.close();
    await db.close();
    await rm(storePath, { force: true });
    await rm(`${storePath}.wal`, { force: true });
    await rm(root, { recursive: true, force: true });
  }
}
