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
}

/**
 * The aggregate side of the serving store. `commit` is one transaction:
 * counts, dedup changes and the consumer's offset land together or not at all.
 */
export interface AggregateStore extends AggregateQueries {
  loadCheckpoint(consumer: string): Promise<ConsumerCheckpoint | undefined>;
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
}
