import { AggregationWorker } from '../aggregate/aggregation-worker.js';
import type { DedupStore } from '../dedup/dedup-store.js';
import type { LogReader } from '../log/event-log.js';
import type { AggregationMetrics } from '../metrics/aggregation-metrics.js';
import type { AggregateStore } from '../store/aggregate-store.js';

/**
 * How often the collectors' spill holds are read. A collector writes its hold
 * before it answers its first spilled event, which is `--produce-deadline`
 * old by then: this refresh plus that deadline must stay under the allowed
 * lateness (the collector's config checks the deadline).
 */
const HOLD_REFRESH_MS = 250;

/** One partition this member of the consumer group was given (log/kafka/kafka-group-consumer.ts). */
export interface PartitionLease {
  readonly partition: number;
  readonly reader: LogReader;
  /** Reads the same partition without moving what the group consumer reports as lag (for the archiver). */
  readonly sideReader?: LogReader;
  /** Aborted when the group takes the partition away. */
  readonly revoked: AbortSignal;
}

export interface PartitionedAggregationOptions {
  readonly store: AggregateStore;
  readonly dedup: DedupStore;
  readonly metrics: AggregationMetrics;
  /** Checkpoint rows are named `<consumerPrefix><partition>`, e.g. `adtally-events/3`. */
  readonly consumerPrefix: string;
  readonly allowedLatenessMs: number;
  readonly clickTtlMs: number;
  readonly flushIntervalMs?: number;
  readonly retryDelayMs?: number;
  readonly log?: (line: string) => void;
}

/** What one partition's aggregation is doing, for /readyz and the metrics. */
interface PartitionState {
  readonly partition: number;
  readonly epoch: number;
  readonly worker: AggregationWorker;
  readonly reader: LogReader;
}

/**
 * The aggregation of every partition this worker process holds: one
 * AggregationWorker per partition lease, each resuming from that partition's
 * checkpoint in the store (never Kafka's committed offset) and committing
 * under the owner epoch it claimed when the partition was assigned.
 *
 * Fencing order: the epoch is claimed before the checkpoint is read, so a
 * previous owner's commit either landed before (and is in the checkpoint
 * read) or is refused after (FencedCommitError); either way no event is
 * counted twice. A revoked lease abandons its partition without committing.
 */
export class PartitionedAggregation {
  private readonly partitions = new Map<number, PartitionState>();
  /** Leases whose start is under way, so a revocation during it is not missed. */
  private readonly starting = new Set<Promise<void>>();
  private closed = false;
  /** The earliest spill hold of any collector, as last read from the store. */
  private hold: number | undefined;
  private readonly holdTimer: NodeJS.Timeout;

  constructor(private readonly options: PartitionedAggregationOptions) {
    const readHold = (): void => {
      options.store.spillHold().then(
        (hold) => (this.hold = hold?.sinceMs),
        // Kept as it was: a store that does not answer holds commits back anyway.
        () => undefined,
      );
    };
    readHold();
    this.holdTimer = setInterval(readHold, HOLD_REFRESH_MS);
    this.holdTimer.unref();
  }

  consumerOf(partition: number): string {
    return `${this.options.consumerPrefix}${partition}`;
  }

  /** Takes a new lease: claims the partition's epoch, then aggregates it until revoked or fenced. */
  assign(lease: PartitionLease): void {
    const started = this.start(lease).catch((err: unknown) => {
      // The lease stays unserved; the group's next rebalance (or this worker's restart) retries it.
      this.print(`partition ${lease.partition}: could not start (${(err as Error).message})`);
    });
    this.starting.add(started);
    void started.finally(() => this.starting.delete(started));
  }

  private async start(lease: PartitionLease): Promise<void> {
    const { partition } = lease;
    const consumer = this.consumerOf(partition);
    if (this.closed || lease.revoked.aborted) return;
    // Revoked and re-assigned quickly: the old run must be gone before a new epoch is claimed.
    await this.partitions.get(partition)?.worker.abandon();
    const epoch = await this.options.store.claimOwnership(consumer);
    const worker = await AggregationWorker.start({
      log: lease.reader,
      store: this.options.store,
      dedup: { claims: this.options.dedup, partition },
      epoch,
      watermarkHold: () => this.hold,
      onFenced: (err) => {
        this.print(`partition ${partition}: ${err.message}; dropping its state`);
        if (this.partitions.get(partition)?.worker === worker) this.partitions.delete(partition);
      },
      metrics: this.options.metrics,
      consumer,
      allowedLatenessMs: this.options.allowedLatenessMs,
      clickTtlMs: this.options.clickTtlMs,
      ...(this.options.flushIntervalMs === undefined
        ? {}
        : { flushIntervalMs: this.options.flushIntervalMs }),
      ...(this.options.retryDelayMs === undefined ? {} : { retryDelayMs: this.options.retryDelayMs }),
    });
    this.partitions.set(partition, { partition, epoch, worker, reader: lease.reader });
    this.print(
      `partition ${partition}: aggregating from offset ${worker.committedOffset()} (epoch ${epoch})`,
    );
    const revoke = (): void => {
      if (this.partitions.get(partition)?.worker !== worker) return;
      this.partitions.delete(partition);
      this.print(
        `partition ${partition}: revoked; what was read since its last commit is left to the next owner`,
      );
      void worker.abandon();
    };
    if (lease.revoked.aborted) revoke();
    else lease.revoked.addEventListener('abort', revoke, { once: true });
  }

  /** Partitions being aggregated now, in order. */
  held(): number[] {
    return [...this.partitions.keys()].sort((a, b) => a - b);
  }

  /** The lowest committed watermark over the held partitions (ms), for the metric. */
  committedWatermark(): number | undefined {
    let low: number | undefined;
    for (const { worker } of this.partitions.values()) {
      const w = worker.committedWatermark();
      if (w !== undefined && (low === undefined || w < low)) low = w;
    }
    return low;
  }

  /** Records not yet committed, per held partition (the reader's end minus the committed offset). */
  lag(): Map<number, number> {
    const lag = new Map<number, number>();
    for (const { partition, worker, reader } of this.partitions.values()) {
      lag.set(partition, Math.max(0, reader.durableEnd() - worker.committedOffset()));
    }
    return lag;
  }

  /** Rejects while any held partition is recovering from a fault (for /readyz). */
  async check(): Promise<void> {
    for (const { partition, worker } of this.partitions.values()) {
      await worker.check().catch((err: unknown) => {
        throw new Error(`partition ${partition}: ${(err as Error).message}`);
      });
    }
  }

  /** Commits what each partition read (under its epoch) and stops. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.holdTimer);
    await Promise.all(this.starting);
    await Promise.all([...this.partitions.values()].map((p) => p.worker.stop()));
    this.partitions.clear();
  }

  private print(line: string): void {
    (this.options.log ?? ((l: string) => console.error(l)))(`adtally worker: ${line}`);
  }
}
