import { addCounts } from '../aggregate/counts.js';
import { DedupIndex } from '../aggregate/dedup-index.js';
import { MinuteAggregator, type CountedEvent } from '../aggregate/minute-aggregator.js';
import type { ArchivedEvent } from '../archive/archive-schema.js';
import { TOKEN_EARLY_TOLERANCE_SEC } from '../domain/token.js';
import type { MinuteDelta } from '../store/aggregate-store.js';

/** What the recompute reads of an archive row: the counted fields, where it was in the log, and its origin. */
export type RecomputedEvent = CountedEvent & Pick<ArchivedEvent, 'partition' | 'offset' | 'origin'>;

export interface RecomputeOptions {
  readonly allowedLatenessMs: number;
  readonly clickTtlMs: number;
  /** The minutes whose counts are wanted: [fromMinute, toMinute). */
  readonly fromMinute: number;
  readonly toMinute: number;
}

/** The margin MinuteAggregator keeps a dedup entry past its token's expiry, for clock skew. */
const CLOCK_SKEW_MARGIN_MS = 60_000;

/**
 * How far from the range valid events can still decide a valid event inside
 * it. Two valid events of one impression both lie within its token's
 * validity, `ts - 300 s` to `ts + click TTL`, so at most TTL + 300 s apart in
 * event time; the lateness and the skew margin are the dedup entry's own
 * margins. An event that far before the range can be the impression's first;
 * one that far after it can still be earlier in the log (a batch line's `at`
 * lies in the past), so the context goes both ways.
 */
export function dedupContextMs(options: Pick<RecomputeOptions, 'allowedLatenessMs' | 'clickTtlMs'>): number {
  return (
    options.clickTtlMs + TOKEN_EARLY_TOLERANCE_SEC * 1000 + options.allowedLatenessMs + CLOCK_SKEW_MARGIN_MS
  );
}

/**
 * Recomputes the per-(ad, minute) counts of [fromMinute, toMinute), keyed by cellKey, from
 * archive rows (SPEC 4.5) with the stream's own rule code, MinuteAggregator,
 * so the two can only disagree where the data does.
 *
 * The rows must come in the order the stream applied them, (partition,
 * offset), each partition cut where its consumer's checkpoint stood, and hold
 * every row of the range plus the valid rows of the dedup context (see
 * dedupContextMs) that share an impression with a valid row of the range:
 * those decide which valid event of an impression is its first. Counts of
 * context rows, outside the range, are dropped.
 *
 * The aggregator is given a fresh DedupIndex and a watermark held at -Infinity,
 * which never finalises a minute: nothing is set apart as late, since the
 * archive holds the late events the stream put in agg_late and the store's
 * counts plus those must equal what is computed here. Each row is applied at
 * a running index, not its offset, so offsets of different partitions never
 * collide in the dedup index (whose "first at this very offset" rule is for
 * the stream's replays). A record forwarded from a collector's spill log
 * whose origin was seen before is a second copy of one event and counts
 * nowhere, as in AggregationWorker.applyClaimed. A row whose (partition,
 * offset) repeats the previous one is the same log record archived twice and
 * is skipped.
 */
export async function recompute(
  chunks: AsyncIterable<readonly RecomputedEvent[]>,
  options: RecomputeOptions,
): Promise<Map<number, MinuteDelta>> {
  const aggregator = new MinuteAggregator({
    allowedLatenessMs: options.allowedLatenessMs,
    clickTtlMs: options.clickTtlMs,
    dedup: new DedupIndex(),
  });
  aggregator.watermark.hold(Number.NEGATIVE_INFINITY);
  const origins = new Set<string>();
  const counts = new Map<number, MinuteDelta>();
  const { fromMinute, toMinute } = options;
  let position = 0;
  let lastPartition = Number.NaN;
  let lastOffset = Number.NaN;
  for await (const chunk of chunks) {
    for (const row of chunk) {
      // One log record in two files (a fenced archiver's leftover, docs/BATCH.md) is one event.
      if (row.offset === lastOffset && row.partition === lastPartition) continue;
      lastPartition = row.partition;
      lastOffset = row.offset;
      position++;
      if (row.origin !== undefined) {
        if (origins.has(row.origin)) continue;
        origins.add(row.origin);
      }
      aggregator.apply(position, row);
    }
    // Drained per chunk: the aggregator's pending dedup list and context buckets stay small.
    for (const delta of aggregator.drain().deltas.values()) {
      if (delta.minute < fromMinute || delta.minute >= toMinute) continue;
      const key = cellKey(delta.ad, delta.minute, fromMinute);
      const known = counts.get(key);
      if (known === undefined) counts.set(key, { ad: delta.ad, minute: delta.minute, counts: delta.counts });
      else addCounts(known.counts, delta.counts);
    }
  }
  return counts;
}

/**
 * The key of (ad, minute) in a recomputed range: a number, not a string (a
 * string key per bucket cost as much as the comparison itself at 600,000
 * buckets an hour). Exact: `minute - fromMinute` is below 2^21 for any range
 * of 400 days, ad ids below 2^32, so the key stays below 2^53.
 */
export function cellKey(ad: number, minute: number, fromMinute: number): number {
  return (minute - fromMinute) * 4_294_967_296 + ad;
}
