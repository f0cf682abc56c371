import { COUNT_FIELDS, emptyCounts, type BucketCounts } from '../../aggregate/counts.js';
import type { SeriesRow } from '../aggregate-store.js';

/** Counters per cell, in COUNT_FIELDS order. */
export const COUNTERS = COUNT_FIELDS.length;

/**
 * Sums counts into the buckets of one series query: [fromMinute, toMinute) in
 * buckets of `bucketMinutes`, aligned to multiples of it (as the SQL path
 * aligns them: `minute // bucket * bucket`). Cells outside the range are
 * ignored, so a caller may hand in whole hours. One instance is reused by
 * every query (`reset`): the arrays are large (up to 10,080 x 12 doubles),
 * and allocating them per query made V8 run full collections for the
 * external memory.
 */
export class SeriesSums {
  private fromMinute = 0;
  private toMinute = 0;
  private bucketMinutes = 1;
  private firstBucket = 0;
  private buckets = 0;
  private sums = new Float64Array(0);
  private touched = new Uint8Array(0);

  /** Starts a new query, all sums zero. */
  reset(fromMinute: number, toMinute: number, bucketMinutes: number): this {
    this.fromMinute = fromMinute;
    this.toMinute = toMinute;
    this.bucketMinutes = bucketMinutes;
    this.firstBucket = Math.floor(fromMinute / bucketMinutes) * bucketMinutes;
    this.buckets = Math.ceil((toMinute - this.firstBucket) / bucketMinutes);
    if (this.touched.length < this.buckets) {
      this.sums = new Float64Array(this.buckets * COUNTERS);
      this.touched = new Uint8Array(this.buckets);
    } else {
      this.sums.fill(0, 0, this.buckets * COUNTERS);
      this.touched.fill(0, 0, this.buckets);
    }
    return this;
  }

  /** Adds `value` to counter `field` (a COUNT_FIELDS index) of `minute`'s bucket. */
  add(minute: number, field: number, value: number): void {
    if (minute < this.fromMinute || minute >= this.toMinute) return;
    const bucket = Math.floor((minute - this.firstBucket) / this.bucketMinutes);
    this.sums[bucket * COUNTERS + field]! += value;
    this.touched[bucket] = 1;
  }

  /** The buckets with a nonzero count, in order: what `AggregateStore.series` returns. */
  rows(): SeriesRow[] {
    const rows: SeriesRow[] = [];
    for (let b = 0; b < this.buckets; b++) {
      if (this.touched[b] === 0) continue;
      const counts: BucketCounts = emptyCounts();
      for (let f = 0; f < COUNTERS; f++) counts[COUNT_FIELDS[f]!] = this.sums[b * COUNTERS + f]!;
      rows.push({ minute: this.firstBucket + b * this.bucketMinutes, counts });
    }
    return rows;
  }
}
