import { decodeEvent, EventDecodeError, type TrackedEvent } from '../domain/event.js';
import type { LogReader } from '../log/event-log.js';
import type { AggregationMetrics } from '../metrics/aggregation-metrics.js';
import type { AggregateStore, MinuteDelta } from '../store/aggregate-store.js';
import type { DedupBackend } from '../dedup/dedup-backend.js';
import { DedupIndex } from './dedup-index.js';
import { logEventReader } from './log-event-reader.js';
import { MinuteAggregator } from './minute-aggregator.js';

export interface AggregationWorkerOptions {
  readonly log: LogReader;
  readonly store: AggregateStore;
  readonly dedup: DedupBackend;
  readonly metrics: AggregationMetrics;
  /** Name of this consumer's checkpoint row. */
  readonly consumer: string;
  readonly allowedLatenessMs: number;
  readonly clickTtlMs: number;
  /** Upper bound between two commits while events flow (SPEC: at least every 250 ms). */
  readonly flushIntervalMs?: number;
  /** How long to wait before starting over after a fault. */
  readonly retryDelayMs?: number;
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
  /** Set by `commitSoon`: the next turn commits what was read without waiting out the interval. */
  private commitRequested = false;
  private failure: Error | undefined;
  /** Set when a background commit failed; the consume loop throws it to start over. */
  private commitError: Error | undefined;

  private aggregator!: MinuteAggregator;

  private constructor(
    private readonly options: AggregationWorkerOptions,
    private readonly now: () => number,
  ) {
    this.offset = 0;
    this.committed = { offset: 0, maxEventTime: undefined };
    this.lastFlush = now();
    this.lastExpiry = now();
  }

  /** Restores the checkpoint and dedup state, then starts consuming. */
  static async start(options: AggregationWorkerOptions): Promise<AggregationWorker> {
    const worker = new AggregationWorker(options, options.now ?? Date.now);
    await worker.restore();
    worker.loop = worker.run();
    return worker;
  }

  /**
   * (Re)builds the in-memory state from the last commit: the checkpoint's
   * offset and watermark, and the dedup entries committed with it. Whatever
   * was read or applied since is dropped and will be read again.
   */
  private async restore(): Promise<void> {
    const { store, consumer, dedup, allowedLatenessMs, clickTtlMs, log, metrics } = this.options;
    const checkpoint = await store.loadCheckpoint(consumer);
    const maxEventTime = checkpoint?.maxEventTime;
    const horizon = maxEventTime === undefined ? -Infinity : maxEventTime - allowedLatenessMs;
    this.aggregator = new MinuteAggregator({
      allowedLatenessMs,
      clickTtlMs,
      maxEventTime,
      dedup: new DedupIndex(await dedup.load(horizon, logEventReader(log))),
    });
    // Right from the first scrape, not only from the first flush.
    metrics.dedupSize.set(this.aggregator.dedupSize());
    this.offset = checkpoint?.offset ?? log.startOffset();
    this.committed = { offset: this.offset, maxEventTime };
    this.pendingEvents = 0;
    this.inflight = Promise.resolve();
    this.commitError = undefined;
  }

  /** The watermark of what the store holds (ms), for `final` flags. */
  committedWatermark(): number | undefined {
    const max = this.committed.maxEventTime;
    return max === undefined ? undefined : max - this.options.allowedLatenessMs;
  }

  committedOffset(): number {
    return this.committed.offset;
  }

  /** Rejects while the worker is recovering from a fault (for /readyz). */
  check(): Promise<void> {
    return this.failure === undefined ? Promise.resolve() : Promise.reject(this.failure);
  }

  /**
   * Asks for a commit of what has been read at the next turn of the consume
   * loop instead of at the end of the interval: a query that must include
   * every acknowledged event (`consistent=true`) is waiting for it.
   */
  commitSoon(): void {
    this.commitRequested = true;
  }

  /** Commits what was read and stops. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /**
   * Consumes until stopped. A fault (a failed commit, a store that went away)
   * does not end aggregation: the worker reports it on /readyz, waits, and
   * starts over from the last commit, which is exactly-once by construction.
   */
  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.consume();
        return;
      } catch (err) {
        this.failure = err instanceof Error ? err : new Error(String(err));
        console.error(
          `adtally: aggregation worker failed, restarting from the last commit: ${this.failure.message}`,
        );
        await sleep(this.options.retryDelayMs ?? 1_000);
        try {
          await this.inflight.catch(() => undefined);
          await this.restore();
          this.failure = undefined;
        } catch (restoreErr) {
          this.failure = restoreErr instanceof Error ? restoreErr : new Error(String(restoreErr));
        }
      }
    }
  }

  private async consume(): Promise<void> {
    const { log, metrics } = this.options;
    const interval = this.options.flushIntervalMs ?? 200;
    const idle = this.options.idlePollMs ?? 5;
    while (this.running) {
      if (this.commitError !== undefined) throw this.commitError;
      const batch = await log.read(this.offset, READ_BYTES);
      for (const record of batch.records) {
        let event: TrackedEvent;
        try {
          event = decodeEvent(record.payload);
        } catch (err) {
          if (!(err instanceof EventDecodeError)) throw err;
          // Intact (CRC-checked) but not an event this build understands: it cannot be counted.
          metrics.undecodableRecords.inc();
          continue;
        }
        this.aggregator.apply(record.offset, event);
      }
      this.pendingEvents += batch.records.length;
      this.offset = batch.next;
      const due = this.commitRequested || this.now() - this.lastFlush >= interval;
      if (this.pendingEvents > 0 && (due || this.aggregator.pendingBuckets() > MAX_PENDING_BUCKETS)) {
        await this.flush();
      }
      metrics.consumerLag.set(log.durableEnd() - this.committed.offset);
      if (batch.records.length === 0) await sleep(idle);
    }
    if (this.pendingEvents > 0) await this.flush();
    await this.inflight;
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
    this.commitRequested = false;
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
    // Noticed by the consume loop at its next turn, even when no further flush comes.
    this.inflight.catch((err: unknown) => {
      this.commitError = err instanceof Error ? err : new Error(String(err));
    });
  }
}
