import type { BucketCounts } from '../aggregate/counts.js';
import type { DedupEntry } from '../aggregate/dedup-index.js';
import type { TrackedEvent } from '../domain/event.js';

/** Where a consumer stands: the log offset to resume from and the watermark's source. */
export interface ConsumerCheckpoint {
  readonly offset: number;
  readonly maxEventTime: number | undefined;
}

export interface MinuteDelta {
  readonly ad: number;
  readonly minute: number;
  readonly counts: BucketCounts;
}

/** Everything one aggregation flush changes; a store applies it atomically. */
export interface AggregationCommit {
  /** Added to the serving counts of (ad, minute). */
  readonly deltas: readonly MinuteDelta[];
  /** Events for minutes that were already final when processed: kept apart for reconciliation. */
  readonly lateDeltas: readonly MinuteDelta[];
  readonly dedupAdded: readonly DedupEntry[];
  /** Dedup entries expiring before this instant (ms) may be dropped. */
  readonly dedupExpireBefore: number | undefined;
  readonly checkpoint: ConsumerCheckpoint;
  /**
   * The owner epoch this commit was made under (see AggregateStore.claimOwnership).
   * When set, the store checks in the same transaction that it is still the
   * consumer's current epoch, and refuses the whole commit with a
   * FencedCommitError otherwise. Undefined: no fencing (one process owns the
   * consumer, as in `adtally serve`).
   */
  readonly epoch?: number;
}

/**
 * A commit refused because its consumer (one partition of the log) was
 * claimed by another owner since: the committer is a zombie and must drop its
 * state for that partition. Nothing of the commit was applied.
 */
export class FencedCommitError extends Error {
  constructor(
    readonly consumer: string,
    readonly epoch: number,
    readonly currentEpoch: number,
  ) {
    super(
      `commit for ${consumer} refused: made under owner epoch ${epoch}, the current epoch is ${currentEpoch}`,
    );
    this.name = 'FencedCommitError';
  }
}

/** The oldest events some collector still holds in its spill log. */
export interface SpillHold {
  readonly collector: string;
  readonly sinceMs: number;
}

/** A consumer's checkpoint as the query side sees it, for the watermark over partitions. */
export interface CheckpointRow {
  readonly consumer: string;
  readonly checkpoint: ConsumerCheckpoint;
  /** Wall clock of its last commit (ms since the epoch). */
  readonly committedAt: number;
}

/**
 * The event the log holds at `offset`, or undefined when it holds none there
 * any more (retention) or the record is not an event this build reads. Used
 * once, to give dedup entries persisted by a release that keyed dedup by imp
 * alone the ad of the event that created them.
 */
export type ReadEventAt = (offset: number) => Promise<Pick<TrackedEvent, 'type' | 'ad' | 'imp'> | undefined>;

/** One bucket of a series: its start minute and summed counts. */
export interface SeriesRow {
  readonly minute: number;
  readonly counts: BucketCounts;
}

export interface TopRow {
  readonly ad: number;
  readonly impressions: number;
  readonly clicks: number;
}

/** The queries the query API asks of the aggregates (SPEC 3.3). */
export interface AggregateQueries {
  /**
   * Counts summed over `ads` per bucket of `bucketMinutes` minutes, for
   * minutes in [fromMinute, toMinute), in bucket order. Only buckets with
   * data are returned (a bucket whose counts are all zero may be left out).
   */
  series(
    ads: readonly number[],
    fromMinute: number,
    toMinute: number,
    bucketMinutes: number,
  ): Promise<SeriesRow[]>;
  top(
    ads: readonly number[] | undefined,
    fromMinute: number,
    toMinute: number,
    by: 'clicks' | 'impressions' | 'ctr',
    limit: number,
  ): Promise<TopRow[]>;
  /**
   * Events of `ads` in [fromMinute, toMinute) set apart in agg_late (every
   * counter summed): late events of final minutes that no answer shows until
   * reconciliation folds them in (`late` in an answer's totals).
   */
  lateTotals(ads: readonly number[], fromMinute: number, toMinute: number): Promise<number>;
}

/**
 * What reconciliation reads of the store in ONE read transaction, so the
 * counts and the checkpoints belong together: every event below a
 * consumer's checkpoint offset is in `serving` or `late`, none above it.
 */
export interface ReconcileSnapshot {
  /** The checkpoint of every consumer whose name starts with the prefix asked for. */
  readonly checkpoints: readonly { readonly consumer: string; readonly checkpoint: ConsumerCheckpoint }[];
  /** agg_minute rows of the range (all-zero rows may be listed). */
  readonly serving: readonly MinuteDelta[];
  /** agg_late rows of the range. */
  readonly late: readonly MinuteDelta[];
  /** The earliest spill hold: the watermark of the stream may be held below a checkpoint's. */
  readonly spillHold: SpillHold | undefined;
}

/** What reconciliation writes in ONE transaction (see AggregateStore.repair). */
export interface ReconcileRepair {
  /** Serving counts set to exactly these (the recomputed ones, zeros where nothing was recomputed). */
  readonly replace: readonly MinuteDelta[];
  /** Subtracted from agg_late: the late rows of the snapshot, now folded into `replace`. */
  readonly subtractLate: readonly MinuteDelta[];
  /** Consumers that must still stand at these offsets (0: no checkpoint), else nothing is written. */
  readonly expectOffsets: readonly { readonly consumer: string; readonly offset: number }[];
}

/**
 * A repair refused because a consumer whose minutes were not final moved on
 * since the snapshot: its later commits may have added to the minutes the
 * repair would overwrite. Nothing was written; take a new snapshot and retry.
 */
export class ReconcileRaceError extends Error {
  readonly retriable = true;

  constructor(
    readonly consumer: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`consumer ${consumer} moved from offset ${expected} to ${actual} during reconciliation`);
    this.name = 'ReconcileRaceError';
  }
}

/**
 * Another reconciliation holds the store (another process, in a cluster):
 * two runs over the same hour could fold its late rows twice, or write back
 * counts older than the other's. Try again later.
 */
export class ReconcileBusyError extends Error {
  readonly retriable = true;

  constructor() {
    super('another reconciliation is running on this store');
    this.name = 'ReconcileBusyError';
  }
}

/** What a retention pass removed. */
export interface RetentionResult {
  /** Rows removed (agg_minute and agg_late), those of dropped partitions included. */
  readonly rows: number;
  /** Whole day partitions dropped (PostgreSQL). */
  readonly droppedPartitions: number;
}

/** The stored minutes themselves, for the analytical SQL's `minutes` view (SPEC 3.5). */
export interface MinuteRowsQuery {
  /**
   * The serving counts of each stored (ad, minute) with minutes in
   * [fromMinute, toMinute), of `ads` only (undefined: every ad), ordered by
   * minute then ad, at most `limit` of them: a caller that asks for one more
   * than it accepts learns that the range holds more than it accepts.
   */
  minuteRows(
    ads: readonly number[] | undefined,
    fromMinute: number,
    toMinute: number,
    limit: number,
  ): Promise<MinuteDelta[]>;
}

/**
 * The aggregate side of the serving store. `commit` is one transaction:
 * counts, dedup changes and the consumer's offset land together or not at all.
 */
export interface AggregateStore extends AggregateQueries, MinuteRowsQuery {
  loadCheckpoint(consumer: string): Promise<ConsumerCheckpoint | undefined>;
  /**
   * Makes the caller the owner of `consumer` (a partition's checkpoint row):
   * bumps its owner epoch atomically and returns the new one. Every later
   * commit carrying an older epoch is refused (FencedCommitError).
   */
  claimOwnership(consumer: string): Promise<number>;
  /** Checkpoints of every consumer whose name starts with `prefix` (the partitions of one topic). */
  listCheckpoints(prefix: string): Promise<CheckpointRow[]>;
  /**
   * A collector holding events in its spill log that are not in the event log
   * yet says so: `sinceMs` is no later than the event time of any of them
   * (undefined: it holds none). The watermark must not pass it, or those
   * events would be late when they are forwarded (log/spill/).
   */
  setSpillHold(collector: string, sinceMs: number | undefined): Promise<void>;
  /** The earliest spill hold of any collector, or undefined when none holds events back. */
  spillHold(): Promise<SpillHold | undefined>;
  /**
   * Dedup entries not expired at `horizonMs`, to rebuild the in-memory index.
   * Entries stored without their ad (an older release) get it first, from
   * the log through `readEventAt`, once and atomically (see
   * duckdb/dedup-ad-migration.ts).
   */
  loadDedup(horizonMs: number, readEventAt: ReadEventAt): Promise<DedupEntry[]>;
  commit(consumer: string, commit: AggregationCommit): Promise<void>;
  /**
   * Sets the serving counts of each (ad, minute) to exactly `counts`, final
   * minutes included: how reconciliation repairs the store (SPEC 4.5). One
   * transaction; each (ad, minute) appears at most once in `rows`.
   */
  replaceCounts(rows: readonly MinuteDelta[]): Promise<void>;
  /**
   * Reconciliation's read (SPEC 4.5): in one read transaction, the checkpoints
   * of the consumers named `consumerPrefix...`, the agg_minute and agg_late
   * rows of [fromMinute, toMinute), and the spill hold.
   */
  reconcileSnapshot(consumerPrefix: string, fromMinute: number, toMinute: number): Promise<ReconcileSnapshot>;
  /**
   * Reconciliation's write, one transaction: `replace` overwrites serving
   * counts (as replaceCounts), `subtractLate` is taken off agg_late (rows
   * left all zero are deleted), and every `expectOffsets` consumer must still
   * be at its offset, else ReconcileRaceError and nothing changes. The late
   * rows must still hold at least what is subtracted (they only grow, but for
   * another run's repair), else ReconcileRaceError too.
   */
  repair(repair: ReconcileRepair): Promise<void>;
  /**
   * Runs `work` (a whole reconciliation) as the only one on this store, across
   * processes where the store is shared (PostgreSQL: an advisory lock held by
   * a connection of its own); rejects at once with ReconcileBusyError while
   * another runs.
   */
  exclusiveReconcile<T>(work: () => Promise<T>): Promise<T>;
  /**
   * The hours (their first minute, ascending) holding agg_late rows of
   * minutes before `beforeMinute`: hours reconciliation should run again,
   * since late events wait there.
   */
  lateHours(beforeMinute: number): Promise<number[]>;
  /** Aggregate retention: deletes agg_minute and agg_late rows of minutes before `minute`. */
  deleteMinutesBefore(minute: number): Promise<RetentionResult>;
}
