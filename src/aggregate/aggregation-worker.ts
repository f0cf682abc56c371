import { decodeEvent, EventDecodeError, type TrackedEvent } from '../domain/event.js';
import type { LogReader, LogRecord } from '../log/event-log.js';
import type { AggregationMetrics } from '../metrics/aggregation-metrics.js';
import { FencedCommitError, type AggregateStore, type MinuteDelta } from '../store/aggregate-store.js';
import type { DedupBackend } from '../dedup/dedup-backend.js';
import type { DedupClaim, DedupStore } from '../dedup/dedup-store.js';
import { DedupIndex, type DedupDecision } from './dedup-index.js';
import { logEventReader } from './log-event-reader.js';
import { MinuteAggregator } from './minute-aggregator.js';

/**
 * Dedup decided by a store that every partition's worker shares (a partitioned
 * log, `adtally worker`): each batch's valid events are claimed there, with
 * their position in `partition`, before they are counted.
 */
export interface ClaimedDedup {
  readonly claims: DedupStore;
  readonly partition: number;
}

export interface AggregationWorkerOptions {
  readonly log: LogReader;
  readonly store: AggregateStore;
  /** Dedup decided in memory from entries restored at start (one consumer: `serve`), or claimed. */
  readonly dedup: DedupBackend | ClaimedDedup;
  /**
   * The owner epoch of `consumer` this worker claimed (AggregateStore.claimOwnership);
   * every commit carries it, and a refused one (FencedCommitError) stops the worker
   * for good: another owner has the partition.
   */
  readonly epoch?: number;
  /** Told once when the worker stopped because a commit was fenced. */
  readonly onFenced?: (err: FencedCommitError) => void;
  /**
   * The event time the watermark must not pass now (events on their way from
   * a collector's spill log), asked before each batch; undefined for none.
   */
  readonly watermarkHold?: () => number | undefined;
  readonly metrics: AggregationMetrics;
  /** Name of this consumer's checkpoint row. */
  readonly consumer: string;
  readonly allowedLatenessMs: number;
  readonly clickTtlMs: number;
  /** Upper bound between two commits while events flow (SPEC: at least every 250 ms). */
  readonly flushIntervalMs?: number;
  /** How long to wait before starting over after a fault; doubles while faults repeat, up to 10 s. */
  readonly retryDelayMs?: number;
  /** How long to sleep when the log has nothing new. */
  readonly idlePollMs?: number;
  readonly now?: () => number;
}

const READ_BYTES = 4 * 1024 * 1024;
/** Commit early when this many buckets are pending, to bound memory during a replay. */
const MAX_PENDING_BUCKETS = 200_000;
const DEDUP_EXPIRY_EVERY_MS = 60_000;
const MAX_RETRY_DELAY_MS = 10_000;
/** How long a forwarded record's origin is remembered: a collector replays its forwards when it restarts. */
const FORWARD_MEMORY_MS = 7 * 86_400_000;

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
  /** Set by `abandon`: stop without committing what was read. */
  private abandoned = false;
  /** Wait before the next restart; back to the configured delay once a commit succeeds. */
  private retryDelay: number;

  private aggregator!: MinuteAggregator;

  private constructor(
    private readonly options: AggregationWorkerOptions,
    private readonly now: () => number,
  ) {
    this.offset = 0;
    this.committed = { offset: 0, maxEventTime: undefined };
    this.lastFlush = now();
    this.lastExpiry = now();
    this.retryDelay = options.retryDelayMs ?? 1_000;
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
      // Claimed dedup keeps nothing here: the shared store decides every valid event.
      dedup: new DedupIndex('claims' in dedup ? [] : await dedup.load(horizon, logEventReader(log))),
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
   * Stops without committing what was read since the last commit (the
   * partition was revoked: its next owner reads it again from the committed
   * offset). A commit already under way finishes or is fenced.
   */
  async abandon(): Promise<void> {
    this.abandoned = true;
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
        if (err instanceof FencedCommitError) {
          // Another worker owns the partition now; what this one read is its to count.
          this.failure = err;
          this.running = false;
          this.options.onFenced?.(err);
          return;
        }
        // Abandoned (the partition was revoked): its reads reject, and nothing is left to retry.
        if (!this.running) return;
        this.failure = err instanceof Error ? err : new Error(String(err));
        console.error(
          `adtally: aggregation worker (${this.options.consumer}) failed, restarting from the last commit in ${this.retryDelay} ms: ${this.failure.message}`,
        );
        await sleep(this.retryDelay);
        this.retryDelay = Math.min(this.retryDelay * 2, MAX_RETRY_DELAY_MS);
        if (!this.running) return;
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
    const claimed = 'claims' in this.options.dedup ? this.options.dedup : undefined;
    while (this.running) {
      if (this.commitError !== undefined) throw this.commitError;
      const batch = await log.read(this.offset, READ_BYTES);
      if (this.options.watermarkHold !== undefined)
        this.aggregator.watermark.hold(this.options.watermarkHold());
      if (claimed === undefined) {
        for (const record of batch.records) {
          const event = this.decode(record.payload);
          if (event !== undefined) this.aggregator.apply(record.offset, event);
        }
      } else {
        await this.applyClaimed(batch.records, claimed);
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
    if (this.pendingEvents > 0 && !this.abandoned) await this.flush();
    await this.inflight;
  }

  /** The event a record holds, or undefined (counted) when it is not an event this build reads. */
  private decode(payload: Buffer): TrackedEvent | undefined {
    try {
      return decodeEvent(payload);
    } catch (err) {
      if (!(err instanceof EventDecodeError)) throw err;
      // Intact (CRC-checked) but not an event this build understands: it cannot be counted.
      this.options.metrics.undecodableRecords.inc();
      return undefined;
    }
  }

  /**
   * Claims the batch's valid events in the shared dedup store, then applies
   * the batch with those decisions. The claims are written before the commit
   * that counts them; a crash in between replays the same positions, which
   * the store answers `first` again. A record forwarded from a collector's
   * spill log is claimed by its origin too, in the same call and before its
   * event: a second copy (a forward replayed after the collector crashed) is
   * skipped whole, so it counts nowhere, not even as a duplicate.
   */
  private async applyClaimed(records: readonly LogRecord[], dedup: ClaimedDedup): Promise<void> {
    const events: (TrackedEvent | undefined)[] = records.map((r) => this.decode(r.payload));
    const claims: DedupClaim[] = [];
    for (let i = 0; i < records.length; i++) {
      const event = events[i];
      if (event === undefined) continue;
      const { offset, origin } = records[i]!;
      const { partition } = dedup;
      if (origin !== undefined) {
        const expiresAt = event.receivedAt + FORWARD_MEMORY_MS;
        claims.push({ kind: 'forward', ad: 0, imp: origin, partition, offset, expiresAt });
      }
      if (event.outcome !== 'ok') continue;
      const expiresAt = this.aggregator.dedupExpiryOf(event);
      claims.push({ kind: event.type, ad: event.ad, imp: event.imp, partition, offset, expiresAt });
    }
    const decisions: DedupDecision[] = claims.length === 0 ? [] : await dedup.claims.claim(claims);
    let next = 0;
    for (let i = 0; i < records.length; i++) {
      const event = events[i];
      if (event === undefined) continue;
      const copy = records[i]!.origin !== undefined && decisions[next++] === 'duplicate';
      const decision = event.outcome === 'ok' ? decisions[next++] : undefined;
      if (copy) {
        this.options.metrics.replayedForwards.inc();
        continue;
      }
      this.aggregator.apply(records[i]!.offset, event, decision);
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
        ...(this.options.epoch === undefined ? {} : { epoch: this.options.epoch }),
      })
      .then(() => {
        this.committed = checkpoint;
        this.retryDelay = this.options.retryDelayMs ?? 1_000;
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
