import { Worker } from 'node:worker_threads';
import type { LogFollowSpec } from '../../log/open-event-log.js';
import type {
  AggregateQueries,
  MinuteDelta,
  RetentionResult,
  MinuteRowsQuery,
  SeriesRow,
  TopRow,
} from '../../store/aggregate-store.js';
import type { CatalogStore } from '../../store/catalog-store.js';
import { OpenHour } from '../../store/minute-index/hour-blocks.js';
import { indexAnswers } from '../../store/minute-index/index-answers.js';
import type { MinuteIndex } from '../../store/minute-index/minute-index.js';
import type { ReconcileRun } from '../../reconcile/reconcile-runner.js';
import {
  AggregationThreadError,
  unpackDeltas,
  type AggregationThreadConfig,
  type CatalogCall,
  type FromThread,
  type StoreCall,
  type ToThread,
} from './protocol.js';

export interface AggregationThreadOptions {
  readonly config: AggregationThreadConfig;
  readonly follow: LogFollowSpec;
  /** The request thread's copy of the recent counts: kept equal to the store from the thread's messages. */
  readonly index: MinuteIndex;
  /** Told once the stored hours of the index's window are loaded. */
  readonly onIndexLoaded?: (load: { hours: number; ms: number; failure?: string }) => void;
  /** Told after each commit reached the index: the live stream's source (web/stream-hub.ts). */
  readonly onCommitted?: (commit: {
    offset: number;
    watermark: number | undefined;
    deltas: readonly MinuteDelta[];
  }) => void;
  /** Told when the thread ends without being stopped: the process can no longer aggregate. */
  readonly onDied: (err: Error) => void;
}

interface Waiter {
  readonly offset: number;
  readonly resolve: (reached: boolean) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * The request thread's handle on the aggregation thread
 * (aggregation-thread-main.ts): the catalog store and the aggregate queries
 * as ports whose calls travel there by message, the committed offset and
 * watermark as they were last told, and the minute index kept in step with
 * every commit. Series queries the index covers never leave this thread.
 */
/** Every CatalogStore call the request thread forwards (all but close); the type keeps it complete. */
const CATALOG_CALLS: Record<CatalogCall, true> = {
  createAdvertiser: true,
  findAdvertiserByKeyHash: true,
  rotateAdvertiserKey: true,
  listAdvertisers: true,
  getAdvertiser: true,
  createCampaign: true,
  getCampaign: true,
  listCampaigns: true,
  createAd: true,
  updateAd: true,
  listAds: true,
  ping: true,
};

export class AggregationThread {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private committed = 0;
  /** Hours holding agg_late rows, as last told; unknown (Infinity) until then. */
  private lateHours = Number.POSITIVE_INFINITY;
  private archiveCommitted = 0;
  private watermark: number | undefined;
  private waiters: Waiter[] = [];
  private stopping = false;
  private exited: Promise<void>;

  /** The catalog port, answered by DuckDB on the aggregation thread (its own connection). */
  readonly catalogStore: CatalogStore;
  /** Series from the minute index when it covers them, else from DuckDB's read connection there. */
  readonly queries: AggregateQueries;

  private constructor(
    private readonly worker: Worker,
    private readonly options: AggregationThreadOptions,
  ) {
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    const call = this.call.bind(this);
    const catalog =
      (name: CatalogCall) =>
      (...args: unknown[]) =>
        call(`catalog.${name}`, args);
    // From the record of every call, so a method added to CatalogStore cannot be left out here.
    this.catalogStore = {
      ...Object.fromEntries(Object.keys(CATALOG_CALLS).map((name) => [name, catalog(name as CatalogCall)])),
      // The thread closes the store when it stops.
      close: () => Promise.resolve(),
    } as unknown as CatalogStore;
    const index = options.index;
    this.queries = {
      series: (ads, fromMinute, toMinute, bucketMinutes) =>
        indexAnswers(index, ads, fromMinute, toMinute)
          ? Promise.resolve(index.series(ads, fromMinute, toMinute, bucketMinutes))
          : (call('series', [ads, fromMinute, toMinute, bucketMinutes]) as Promise<SeriesRow[]>),
      top: (...args) => call('top', args) as Promise<TopRow[]>,
      // Late rows are rare (batch lines of final minutes, until reconciled): most answers need no call.
      lateTotals: (...args) =>
        this.lateHours === 0 ? Promise.resolve(0) : (call('lateTotals', args) as Promise<number>),
    };
  }

  /** Starts the thread; resolves once its worker has restored its checkpoint and consumes. */
  static async start(options: AggregationThreadOptions): Promise<AggregationThread> {
    const worker = new Worker(new URL('./aggregation-thread-main.js', import.meta.url), {
      workerData: { config: options.config, follow: options.follow },
    });
    const thread = new AggregationThread(worker, options);
    await new Promise<void>((resolve, reject) => {
      const onExit = (code: number) => reject(new Error(`aggregation thread exited with code ${code}`));
      worker.once('error', reject);
      worker.once('exit', onExit);
      worker.on('message', (message: FromThread) => {
        if (message.type === 'ready') {
          worker.off('error', reject);
          worker.off('exit', onExit);
          thread.watchForDeath();
          thread.advance(message.committedOffset, message.watermark);
          thread.archiveCommitted = message.archiveCommittedOffset;
          resolve();
        } else if (message.type === 'start-failed') {
          reject(new AggregationThreadError(message.error));
          void worker.terminate();
        } else {
          thread.receive(message);
        }
      });
    });
    return thread;
  }

  /** Offset below which every log record is in the committed counts (and so in the index). */
  committedOffset(): number {
    return this.committed;
  }

  /** The watermark of the committed counts (ms), for `final` flags. */
  committedWatermark(): number | undefined {
    return this.watermark;
  }

  /**
   * Resolves true once the committed offset reaches `offset`, false after
   * `timeoutMs`. While anyone waits the worker commits at once rather than
   * at the end of its interval.
   */
  waitForCommitted(offset: number, timeoutMs: number): Promise<boolean> {
    if (this.committed >= offset) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        offset,
        resolve,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(false);
        }, timeoutMs),
      };
      this.waiters.push(waiter);
      this.send({ type: 'commit-soon' });
    });
  }

  /**
   * Reconciles [fromMinute, toMinute) on the aggregation thread (one run at a
   * time there); resolves with the run's report, its file and table.
   */
  reconcile(fromMinute: number, toMinute: number): Promise<ReconcileRun> {
    return this.call('reconcile', [fromMinute, toMinute]) as Promise<ReconcileRun>;
  }

  /** Aggregate retention (`--retention`): the store deletes the minutes before `minute`, on the aggregation thread. */
  deleteMinutesBefore(minute: number): Promise<RetentionResult> {
    return this.call('deleteMinutesBefore', [minute]) as Promise<RetentionResult>;
  }

  /**
   * AggregateStore.minuteRows, read on the aggregation thread and sent back
   * packed (packDeltas), its buffer moved: the request thread never builds
   * an object per row (a day of 100 ads is 144,000 rows).
   */
  readonly minuteRowsPacked = (...args: Parameters<MinuteRowsQuery['minuteRows']>): Promise<Float64Array> =>
    this.call('minuteRows', args) as Promise<Float64Array>;

  /** Offset below which every log record is in a committed file of the raw archive. */
  archiveCommittedOffset(): number {
    return this.archiveCommitted;
  }

  /**
   * Closes the archive's files now; resolves with the archiver's committed
   * offset once it covers the log's durable end as of the call (what
   * reconciliation needs before it compares the archive with the store).
   */
  archiveFlush(): Promise<number> {
    return this.call('archive-flush', []) as Promise<number>;
  }

  /** Rejects while the archiver is recovering from a fault (disk, store), or when the thread is gone. */
  async checkArchive(): Promise<void> {
    await this.call('archive-check', []);
  }

  /** Rejects while the worker is recovering from a fault, or when the thread is gone. */
  async check(): Promise<void> {
    await this.call('check', []);
  }

  /** The aggregation metrics, as Prometheus text. */
  metricsText(): Promise<string> {
    return this.call('metrics', []) as Promise<string>;
  }

  /** The worker commits what it read, the store closes, the thread ends. */
  async stop(): Promise<void> {
    if (this.stopping) return this.exited;
    this.stopping = true;
    await this.call('stop', []);
    await this.exited;
  }

  private call(call: StoreCall, args: unknown[]): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ type: 'call', id, call, args });
    });
  }

  private send(message: ToThread): void {
    this.worker.postMessage(message);
  }

  private watchForDeath(): void {
    const died = (err: Error): void => {
      for (const { reject } of this.pending.values()) reject(err);
      this.pending.clear();
      if (!this.stopping) this.options.onDied(err);
    };
    this.worker.on('error', died);
    this.worker.on('exit', (code) => {
      died(new Error(`aggregation thread exited with code ${code}`));
    });
  }

  private receive(message: FromThread): void {
    const { index } = this.options;
    switch (message.type) {
      case 'reply': {
        const pending = this.pending.get(message.id);
        this.pending.delete(message.id);
        if ('error' in message) pending?.reject(new AggregationThreadError(message.error));
        else pending?.resolve(message.value);
        return;
      }
      case 'index-live':
        index.startLive(message.hour);
        return;
      case 'index-hour':
        index.loadHour(message.hour, OpenHour.fromTransfer(message.block));
        return;
      case 'index-loaded':
        this.options.onIndexLoaded?.(message);
        return;
      case 'committed': {
        const deltas = unpackDeltas(message.deltas);
        index.add(deltas);
        this.advance(message.offset, message.watermark);
        this.options.onCommitted?.({ offset: message.offset, watermark: message.watermark, deltas });
        return;
      }
      case 'replaced':
        index.replace(unpackDeltas(message.rows));
        return;
      case 'late-hours':
        this.lateHours = message.hours;
        return;
      case 'archive-committed':
        if (message.offset > this.archiveCommitted) this.archiveCommitted = message.offset;
        return;
      default:
        return;
    }
  }

  /** A commit landed: the index holds it already, so waiting queries may now read. */
  private advance(offset: number, watermark: number | undefined): void {
    if (offset > this.committed) this.committed = offset;
    if (watermark !== undefined && (this.watermark === undefined || watermark > this.watermark)) {
      this.watermark = watermark;
    }
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (waiter.offset <= this.committed) {
        clearTimeout(waiter.timer);
        waiter.resolve(true);
      } else still.push(waiter);
    }
    this.waiters = still;
    // The commit may have been drained before the awaited records were read: ask again.
    if (still.length > 0) this.send({ type: 'commit-soon' });
  }
}
