import type { LoadAds } from '../archive/ad-owners.js';
import { Archiver, type ArchiveFileWriter } from '../archive/archiver.js';
import type { ArchiveMetrics } from '../metrics/archive-metrics.js';
import type { AggregateStore } from '../store/aggregate-store.js';
import type { PartitionLease } from './partitioned-aggregation.js';

export interface PartitionedArchiveOptions {
  readonly store: AggregateStore;
  readonly loadAds: LoadAds;
  readonly writer: ArchiveFileWriter;
  /** The archive's root: a path every worker shares, so the archive is one tree. */
  readonly root: string;
  readonly topic: string;
  readonly rollIntervalMs: number;
  readonly rollBytes: number;
  readonly metrics: ArchiveMetrics;
  readonly retryDelayMs?: number;
  readonly log?: (line: string) => void;
}

/**
 * The raw archive of every partition this worker holds: one Archiver per
 * partition lease, committing its position as the checkpoint
 * `archive/<topic>/<partition>` (not under `<topic>/`, the aggregation's
 * prefix that the watermark lists) under an owner epoch claimed at
 * assignment, exactly like PartitionedAggregation: a previous owner's roll
 * either committed before the claim (and is in the checkpoint read) or is
 * refused after it, and then takes its files back. A revoked lease abandons
 * what was read since the last roll; the next owner archives it.
 */
export class PartitionedArchive {
  private readonly archivers = new Map<number, Archiver>();
  private readonly starting = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly options: PartitionedArchiveOptions) {}

  consumerOf(partition: number): string {
    return `archive/${this.options.topic}/${partition}`;
  }

  assign(lease: PartitionLease): void {
    const started = this.start(lease).catch((err: unknown) => {
      this.print(`partition ${lease.partition}: could not start archiving (${(err as Error).message})`);
    });
    this.starting.add(started);
    void started.finally(() => this.starting.delete(started));
  }

  private async start(lease: PartitionLease): Promise<void> {
    const { partition } = lease;
    if (this.closed || lease.revoked.aborted) return;
    await this.archivers.get(partition)?.abandon();
    const consumer = this.consumerOf(partition);
    const epoch = await this.options.store.claimOwnership(consumer);
    const archiver = await Archiver.start({
      // Its own reader: the archiver's position is not the aggregation's lag.
      log: lease.sideReader ?? lease.reader,
      store: this.options.store,
      loadAds: this.options.loadAds,
      writer: this.options.writer,
      root: this.options.root,
      consumer,
      partition,
      epoch,
      onFenced: (err) => {
        this.print(`partition ${partition}: ${err.message}; its archive files are the new owner's`);
        if (this.archivers.get(partition) === archiver) this.archivers.delete(partition);
      },
      rollIntervalMs: this.options.rollIntervalMs,
      rollBytes: this.options.rollBytes,
      metrics: this.options.metrics,
      ...(this.options.retryDelayMs === undefined ? {} : { retryDelayMs: this.options.retryDelayMs }),
      ...(this.options.log === undefined ? {} : { print: this.options.log }),
    });
    this.archivers.set(partition, archiver);
    this.print(
      `partition ${partition}: archiving from offset ${archiver.committedOffset()} (epoch ${epoch})`,
    );
    const revoke = (): void => {
      if (this.archivers.get(partition) !== archiver) return;
      this.archivers.delete(partition);
      void archiver.abandon();
    };
    if (lease.revoked.aborted) revoke();
    else lease.revoked.addEventListener('abort', revoke, { once: true });
  }

  /** Partitions being archived now, in order. */
  held(): number[] {
    return [...this.archivers.keys()].sort((a, b) => a - b);
  }

  /** The committed archive offset of each held partition. */
  committedOffsets(): Map<number, number> {
    return new Map([...this.archivers].map(([partition, a]) => [partition, a.committedOffset()]));
  }

  /** Rejects while any held partition's archiver is recovering from a fault (for /readyz). */
  async check(): Promise<void> {
    for (const [partition, archiver] of this.archivers) {
      await archiver.check().catch((err: unknown) => {
        throw new Error(`archive of partition ${partition}: ${(err as Error).message}`);
      });
    }
  }

  /** Each partition archives what it read (under its epoch) and stops. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.starting);
    await Promise.all([...this.archivers.values()].map((a) => a.stop()));
    this.archivers.clear();
  }

  private print(line: string): void {
    (this.options.log ?? ((l: string) => console.error(l)))(`adtally worker: ${line}`);
  }
}
