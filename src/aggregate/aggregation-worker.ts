import { decodeEvent } from '../domain/event.js';
import type { EventLog } from '../log/event-log.js';
import type { Metrics } from '../metrics/metrics.js';
import type { AggregateStore, MinuteDelta } from '../store/aggregate-store.js';
import type { DedupBackend } from '../dedup/dedup-backend.js';
import { DedupIndex } from './dedup-index.js';
import { MinuteAggregator } from './minute-aggregator.js';

export interface AggregationWorkerOptions {
  readonly log: EventLog;
  readonly store: AggregateStore;
  readonly dedup: DedupBackend;
  readonly metrics: Metrics;
  /** Name of this consumer's checkpoint row. */
  readonly consumer: string;
  readonly allowedLatenessMs: number;
  readonly clickTtlMs: number;
  /** Upper bound between two commits while events flow (SPEC: at least every 250 ms). */
  readonly flushIntervalMs?: number;
  /** How long to sleep when the log has nothing new. */
  readonly idlePollMs?: number;
  readonly now?: () => number;
}

const READ_BYTES = 4 * 1024 * 1024;
/** Commit early when this many buckets are pending, to bound memory during a replay. */
const MAX_PENDING_BUCKETS = 200_000;
const DEDUP_EXPIRY_EVERY_MS = 60_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Consumes the event log from its committed offset and commits per-minute
 * counts. Exactly once: each commit carries the deltas, the dedup entries
 * first seen in them and the offset after the last event they cover, in one
 * store transaction; after a crash the worker resumes from that offset with
 * the dedup state of that same commit, so every event is counted once.
 */
export class AggregationWorker {
  private offset: number;
  private committed: { offset: number; maxEventTime: number | undefined };
  private running = true;
  private loop: Promise<void> | undefined;
  private inflight: Promise<void> = Promise.resolve();
  private lastFlush: number;
  private lastExpiry: number;
  private pendingEvents = 0;
  private failure: Error | undefined;

  private constructor(
    private readonly options: AggregationWorkerOptions,
    private readonly aggregator: MinuteAggregator,
    start: { offset: number; maxEventTime: number | undefined },
    private readonly now: () => number,
  ) {
    this.offset = start.offset;
    this.committed = start;
    this.lastFlush = now();
    this.lastExpiry = now();
  }

  /** Restores the checkpoint and dedup state, then starts consuming. */
  static async start(options: AggregationWorkerOptions): Promise<AggregationWorker> {
    const now = options.now ?? Date.now;
    const checkpoint = await options.store.loadCheckpoint(options.consumer);
    const maxEventTime = checkpoint?.maxEventTime;
    const horizon = maxEventTime === undefined ? -Infinity : maxEventTime - options.allowedLatenessMs;
    const dedup = new DedupIndex(await options.dedup.load(horizon));
    const aggregator = new MinuteAggregator({
      allowedLatenessMs: options.allowedLatenessMs,
      clickTtlMs: options.clickTtlMs,
      maxEventTime,
      dedup,
    });
    const start = { offset: checkpoint?.offset ?? options.log.startOffset(), maxEventTime };
    const worker = new AggregationWorker(options, aggregator, start, now);
    worker.loop = worker.run();
    return worker;
  }

  /** The watermark of what the store holds (ms), for `final` flags. */
  committedWatermark(): number | undefined {
    const max = this.committed.maxEventTime;
    return max === undefined ? undefined : max - this.options.allowedLatenessMs;
  }

  committedOffset(): number {
    return this.committed.offset;
  }

  /** Rejects when the worker stopped on a fault (for /readyz). */
  check(): Promise<void> {
    return this.failure === undefined ? Promise.resolve() : Promise.reject(this.failure);
  }

  /** Commits what was read and stops. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    const { log, metrics } = this.options;
    const interval = this.options.flushIntervalMs ?? 200;
    const idle = this.options.idlePollMs ?? 5;
    try {
      while (this.running) {
        const batch = await log.read(this.offset, READ_BYTES);
        for (const record of batch.records) {
          this.aggregator.apply(record.offset, decodeEvent(record.payload));
        }
        this.pendingEvents += batch.records.length;
        this.offset = batch.next;
        const due = this.now() - this.lastFlush >= interval;
        if (this.pendingEvents > 0 && (due || this.aggregator.pendingBuckets() > MAX_PENDING_BUCKETS)) {
          await this.flush();
        }
        metrics.consumerLag.set(log.durableEnd() - this.committed.offset);
        if (batch.records.length === 0) await sleep(idle);
      }
      if (this.pendingEvents > 0) await this.flush();
      await this.inflight;
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      console.error(`adtally: aggregation worker stopped: ${this.failure.message}`);
    }
  }

  /**
   * Drains the aggregator and commits. The commit runs while the next batch
   * is read and applied (DuckDB works on its own threads); commits stay in
   * order because each waits for the one before it.
   */
  private async flush(): Promise<void> {
    await this.inflight;
    const { metrics, store, consumer } = this.options;
    const now = this.now();
    let dedupExpireBefore: number | undefined;
    if (now - this.lastExpiry >= DEDUP_EXPIRY_EVERY_MS) {
      this.lastExpiry = now;
      this.aggregator.expireDedup();
      dedupExpireBefore = this.aggregator.watermark.value();
    }
    const drained = this.aggregator.drain();
    const deltas: MinuteDelta[] = [...drained.deltas.values()];
    const lateDeltas: MinuteDelta[] = [...drained.lateDeltas.values()];
    const checkpoint = { offset: this.offset, maxEventTime: drained.maxEventTime };
    metrics.lateEvents.inc(drained.lateEvents);
    metrics.dedupSize.set(this.aggregator.dedupSize());
    this.pendingEvents = 0;
    this.lastFlush = now;
    const started = process.hrtime.bigint();
    this.inflight = store
      .commit(consumer, {
        deltas,
        lateDeltas,
        dedupAdded: drained.newDedupEntries,
        dedupExpireBefore,
        checkpoint,
      })
      .then(() => {
        this.committed = checkpoint;
        metrics.storeFlushLatency.observe(Number(process.hrtime.bigint() - started) / 1e9);
        metrics.aggregatedEvents.inc(drained.events);
        const watermark = this.committedWatermark();
        if (watermark !== undefined) metrics.watermarkDelay.set((this.now() - watermark) / 1000);
      });
    // Handled when awaited by the next flush or by stop(); this only keeps Node from calling it unhandled meanwhile.
    this.inflight.catch(() => undefined);
  }
}
