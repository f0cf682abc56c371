/**
 * Entry point of the aggregation thread of `adtally serve` (see
 * aggregation-thread.ts for the request thread's side). Everything that
 * touches DuckDB runs here: the aggregation worker and its commits, the
 * catalog's statements, the queries the minute index cannot answer, and the
 * minute index's load at start. The request thread never waits for any of it
 * to answer a click.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Archiver } from '../../archive/archiver.js';
import { ParquetArchiveWriter } from '../../archive/parquet-writer.js';
import { EmbeddedDedup } from '../../dedup/embedded-dedup.js';
import { openLogFollower, type LogFollowSpec } from '../../log/open-event-log.js';
import { AggregationMetrics } from '../../metrics/aggregation-metrics.js';
import { ArchiveMetrics } from '../../metrics/archive-metrics.js';
import type { AggregateStore } from '../../store/aggregate-store.js';
import { DuckDbAggregateStore, type CommittedChange } from '../../store/duckdb/duckdb-aggregate-store.js';
import { DuckDbCatalogStore } from '../../store/duckdb/duckdb-catalog-store.js';
import { DuckDbDatabase } from '../../store/duckdb/duckdb-database.js';
import {
  loadStoredHours,
  startMinuteIndex,
  type StoredHourSink,
} from '../../store/duckdb/minute-index-loader.js';
import type { OpenHour } from '../../store/minute-index/hour-blocks.js';
import { storedHoursToLoad, windowStartHourAt } from '../../store/minute-index/minute-index.js';
import { AggregationWorker } from '../aggregation-worker.js';
import { archiveCheckpointCoverage } from '../../reconcile/archive-coverage.js';
import { serveConsumers } from '../../reconcile/consumers.js';
import { startReconcileService } from '../../reconcile/reconcile-service.js';
import {
  packDeltas,
  serializeError,
  type AggregationThreadConfig,
  type FromThread,
  type StoreCall,
  type ToThread,
} from './protocol.js';

interface ThreadData {
  readonly config: AggregationThreadConfig;
  readonly follow: LogFollowSpec;
}

const port = parentPort;
if (port === null) throw new Error('aggregation-thread-main runs as a worker thread only');
const { config, follow } = workerData as ThreadData;

function post(message: FromThread, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

function tell(change: CommittedChange): void {
  if (change.kind === 'add' && change.consumer !== config.consumer) {
    // The archiver's commit (no deltas): only its position matters to the request thread.
    post({ type: 'archive-committed', offset: change.checkpoint.offset });
    return;
  }
  if (change.kind === 'add') {
    const deltas = packDeltas(change.deltas);
    post(
      {
        type: 'committed',
        offset: change.checkpoint.offset,
        watermark:
          change.checkpoint.maxEventTime === undefined
            ? undefined
            : change.checkpoint.maxEventTime - config.allowedLatenessMs,
        deltas,
      },
      [deltas.buffer as ArrayBuffer],
    );
  } else {
    const rows = packDeltas(change.rows);
    post({ type: 'replaced', rows }, [rows.buffer as ArrayBuffer]);
  }
}

/** The minute index lives on the request thread: stored hours are posted there, in commit order. */
class PostedHours implements StoredHourSink {
  private liveFromHour = Number.POSITIVE_INFINITY;
  failed: Error | undefined;

  startLive(hour: number): void {
    this.liveFromHour = hour;
    post({ type: 'index-live', hour });
  }

  hoursToLoad(): number[] {
    const start = windowStartHourAt(Date.now(), config.indexWindowHours);
    return storedHoursToLoad(this.liveFromHour, start, config.indexWindowHours);
  }

  loadHour(hour: number, block: OpenHour): void {
    const transfer = block.toTransfer();
    post(
      { type: 'index-hour', hour, block: transfer },
      transfer.pages.map((page) => page.buffer as ArrayBuffer),
    );
  }

  fail(err: unknown): void {
    this.failed ??= err instanceof Error ? err : new Error(String(err));
  }
}

/** Test seam: a commit that blocks this thread, as a long appender flush would. */
function stalling(store: AggregateStore, ms: number): AggregateStore {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  return Object.assign(Object.create(store) as AggregateStore, {
    commit: (consumer: string, commit: Parameters<AggregateStore['commit']>[1]) => {
      Atomics.wait(cell, 0, 0, ms);
      return store.commit(consumer, commit);
    },
  });
}

/** After a commit that set events apart as late, and after a repair, the request thread hears how many hours hold late rows. */
function withLateHoursTold(store: AggregateStore, tell: () => Promise<void>): AggregateStore {
  return Object.assign(Object.create(store) as AggregateStore, {
    commit: async (consumer: string, commit: Parameters<AggregateStore['commit']>[1]) => {
      await store.commit(consumer, commit);
      if (commit.lateDeltas.length > 0) await tell();
    },
    repair: async (repair: Parameters<AggregateStore['repair']>[0]) => {
      await store.repair(repair);
      await tell();
    },
  });
}

async function start(): Promise<void> {
  const db = await DuckDbDatabase.open(config.storePath);
  // Queries and catalog statements each get a connection of their own: neither waits behind a commit.
  const reads = await db.connectAgain();
  const catalogDb = await db.connectAgain();
  const catalog = await DuckDbCatalogStore.create(catalogDb);
  const aggregates = await DuckDbAggregateStore.create(db, { reads, onCommitted: tell });
  const hours = new PostedHours();
  await startMinuteIndex(db, hours); // before the first commit, which the index follows
  const log = await openLogFollower(follow);
  const metrics = new AggregationMetrics();
  // The request thread asks the store for late totals only while some hour holds late rows.
  const tellLateHours = async (): Promise<void> => {
    post({ type: 'late-hours', hours: (await aggregates.lateHours(Number.MAX_SAFE_INTEGER)).length });
  };
  await tellLateHours();
  const store = withLateHoursTold(
    config.commitStallMs === undefined ? aggregates : stalling(aggregates, config.commitStallMs),
    tellLateHours,
  );
  const worker = await AggregationWorker.start({
    log,
    store,
    dedup: new EmbeddedDedup(aggregates),
    metrics,
    consumer: config.consumer,
    allowedLatenessMs: config.allowedLatenessMs,
    clickTtlMs: config.clickTtlMs,
  });
  // The archiver reads the log through a follower of its own and commits its position in the same store.
  const archiveLog = await openLogFollower(follow);
  const archiveWriter = await ParquetArchiveWriter.open();
  const archiveMetrics = new ArchiveMetrics();
  const archiver = await Archiver.start({
    log: archiveLog,
    store: aggregates,
    loadAds: () => catalog.listAds(),
    writer: archiveWriter,
    root: config.archive.root,
    consumer: config.archive.consumer,
    rollIntervalMs: config.archive.rollIntervalMs,
    rollBytes: config.archive.rollBytes,
    metrics: archiveMetrics,
  });
  const coverage = archiveCheckpointCoverage(aggregates, {
    consumerOf: () => config.archive.consumer,
    waitMs: 0,
  });
  const reconciliation =
    config.reconcile === undefined
      ? undefined
      : startReconcileService({
          store: withLateHoursTold(aggregates, tellLateHours),
          archiveRoot: config.archive.root,
          dataDir: config.reconcile.dataDir,
          ...serveConsumers(config.consumer, config.archive.consumer),
          // The archiver closes its files up to the log's durable end (past any cut read before),
          // and its committed position (consumer `archive`) must then cover the cut.
          ensureArchived: async (cuts) => {
            await archiver.flushNow();
            await coverage(cuts);
          },
          allowedLatenessMs: config.allowedLatenessMs,
          clickTtlMs: config.clickTtlMs,
          graceMs: config.reconcile.graceMs,
          registry: metrics.registry,
          log: (line) => console.error(line),
        });
  void loadStoredHours(db, hours).then(({ hours: count, ms, failure }) => {
    post({ type: 'index-loaded', hours: count, ms, ...(failure ? { failure: failure.message } : {}) });
  });

  const calls: Record<StoreCall, (...args: never[]) => Promise<unknown>> = {
    'catalog.createAdvertiser': (name: string, hash: string) => catalog.createAdvertiser(name, hash),
    'catalog.findAdvertiserByKeyHash': (hash: string) => catalog.findAdvertiserByKeyHash(hash),
    'catalog.rotateAdvertiserKey': (id: number, hash: string) => catalog.rotateAdvertiserKey(id, hash),
    'catalog.listAdvertisers': () => catalog.listAdvertisers(),
    'catalog.getAdvertiser': (id: number) => catalog.getAdvertiser(id),
    'catalog.createCampaign': (advertiser: number, name: string) => catalog.createCampaign(advertiser, name),
    'catalog.getCampaign': (id: number) => catalog.getCampaign(id),
    'catalog.listCampaigns': (advertiser?: number) => catalog.listCampaigns(advertiser),
    'catalog.createAd': (...args: Parameters<DuckDbCatalogStore['createAd']>) => catalog.createAd(...args),
    'catalog.updateAd': (...args: Parameters<DuckDbCatalogStore['updateAd']>) => catalog.updateAd(...args),
    'catalog.listAds': (advertiser?: number) => catalog.listAds(advertiser),
    'catalog.ping': () => catalog.ping(),
    series: (...args: Parameters<AggregateStore['series']>) => aggregates.series(...args),
    top: (...args: Parameters<AggregateStore['top']>) => aggregates.top(...args),
    lateTotals: (...args: Parameters<AggregateStore['lateTotals']>) => aggregates.lateTotals(...args),
    reconcile: (fromMinute: number, toMinute: number) =>
      reconciliation === undefined
        ? Promise.reject(new Error('reconciliation is not configured in this process'))
        : reconciliation.runner.run(fromMinute, toMinute),
    deleteMinutesBefore: (minute: number) => aggregates.deleteMinutesBefore(minute),
    minuteRows: (...args: Parameters<AggregateStore['minuteRows']>) =>
      aggregates.minuteRows(...args).then(packDeltas),
    check: () => worker.check(),
    'archive-check': () => archiver.check(),
    'archive-flush': () => archiver.flushNow(),
    metrics: async () => `${await metrics.registry.metrics()}\n${await archiveMetrics.registry.metrics()}`,
    stop: async () => {
      // SIGTERM: the aggregation commits what it read; the archiver archives everything durable, so all is readable.
      await reconciliation?.stop();
      await worker.stop();
      await archiver.stop();
      archiveWriter.close();
      await archiveLog.close();
      await log.close();
      await reads.close();
      await catalogDb.close();
      await db.close();
      setImmediate(() => port!.close());
    },
  };

  port!.on('message', (message: ToThread) => {
    if (message.type === 'commit-soon') {
      worker.commitSoon();
      return;
    }
    const call = calls[message.call] as ((...args: unknown[]) => Promise<unknown>) | undefined;
    const reply =
      call === undefined ? Promise.reject(new Error(`no call ${message.call}`)) : call(...message.args);
    reply.then(
      // A packed reply (minuteRows) moves its buffer instead of copying it.
      (value) =>
        post(
          { type: 'reply', id: message.id, value },
          value instanceof Float64Array ? [value.buffer as ArrayBuffer] : [],
        ),
      (err: unknown) => post({ type: 'reply', id: message.id, error: serializeError(err) }),
    );
  });
  post({
    type: 'ready',
    committedOffset: worker.committedOffset(),
    watermark: worker.committedWatermark(),
    archiveCommittedOffset: archiver.committedOffset(),
  });
}

start().catch((err: unknown) => post({ type: 'start-failed', error: serializeError(err) }));
