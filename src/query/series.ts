import { emptyCounts, type BucketCounts } from '../aggregate/counts.js';
import { MINUTE_MS } from '../aggregate/minute.js';

export type Granularity = 'minute' | 'hour' | 'day';
export const BUCKET_MINUTES: Readonly<Record<Granularity, number>> = { minute: 1, hour: 60, day: 1440 };
export const MAX_BUCKETS = 10_080;
const DEFAULT_SPAN_MS = 3_600_000;

export interface SeriesRange {
  readonly granularity: Granularity;
  /** Inclusive, aligned down to the granularity (minutes since epoch). */
  readonly fromMinute: number;
  /** Exclusive, aligned up to the granularity. */
  readonly toMinute: number;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** An ISO 8601 instant of a query parameter: ms, undefined when absent, or a reason it is not one. */
export function parseInstant(name: string, raw: string | null): number | undefined | string {
  if (raw === null) return undefined;
  if (!ISO_INSTANT.test(raw)) return `${name} must be an ISO 8601 instant such as 2026-11-23T10:00:00Z`;
  const ms = Date.parse(raw);
  return Number.isNaN(ms) ? `${name} is not a valid date` : ms;
}

/**
 * Reads from, to and granularity (SPEC 3.3). The range is widened to whole
 * buckets (from down, to up), so every bucket returned is complete; the
 * answer reports the aligned range. Returns a reason string when invalid.
 */
export function parseSeriesRange(query: URLSearchParams, nowMs: number): SeriesRange | string {
  const granularity = query.get('granularity') ?? 'minute';
  if (granularity !== 'minute' && granularity !== 'hour' && granularity !== 'day') {
    return 'granularity must be minute, hour or day';
  }
  const from = parseInstant('from', query.get('from'));
  const to = parseInstant('to', query.get('to'));
  if (typeof from === 'string') return from;
  if (typeof to === 'string') return to;
  const toMs = to ?? nowMs;
  const fromMs = from ?? toMs - DEFAULT_SPAN_MS;
  if (fromMs >= toMs) return 'from must be before to';
  const bucket = BUCKET_MINUTES[granularity];
  const fromMinute = Math.floor(fromMs / MINUTE_MS / bucket) * bucket;
  const toMinute = Math.ceil(toMs / MINUTE_MS / bucket) * bucket;
  const buckets = (toMinute - fromMinute) / bucket;
  if (buckets > MAX_BUCKETS)
    return `the range holds ${buckets} ${granularity} buckets; at most ${MAX_BUCKETS} a request`;
  return { granularity, fromMinute, toMinute };
}

const iso = (minute: number): string => new Date(minute * MINUTE_MS).toISOString();

export interface SeriesBucket {
  ts: string;
  impressions: number;
  clicks: number;
  invalid: { duplicate: number; bot: number; prefetch: number; bad_signature: number; expired: number };
  invalidImpressions: {
    duplicate: number;
    bot: number;
    prefetch: number;
    bad_signature: number;
    expired: number;
  };
  ctr: number;
  final: boolean;
}

const ctr = (clicks: number, impressions: number): number => (impressions === 0 ? 0 : clicks / impressions);

/** An answer's totals. `late`: events of the range's final minutes set apart until reconciliation folds them in. */
export interface SeriesTotals {
  impressions: number;
  clicks: number;
  ctr: number;
  late: number;
}

/**
 * Every bucket of the range, zeros included, from the store's rows (which
 * hold only buckets with data). A bucket is final once the watermark has
 * passed its end (SPEC 3.3 / 4.4): its counts then change only through
 * reconciliation, which also folds in the `late` events of the totals.
 */
export function buildSeries(
  range: SeriesRange,
  rows: readonly { minute: number; counts: BucketCounts }[],
  watermarkMs: number | undefined,
  late = 0,
): { series: SeriesBucket[]; totals: SeriesTotals } {
  const bucket = BUCKET_MINUTES[range.granularity];
  const byMinute = new Map(rows.map((r) => [r.minute, r.counts]));
  const series: SeriesBucket[] = [];
  let impressions = 0;
  let clicks = 0;
  for (let minute = range.fromMinute; minute < range.toMinute; minute += bucket) {
    const c = byMinute.get(minute) ?? emptyCounts();
    const endMs = (minute + bucket) * MINUTE_MS;
    const b: SeriesBucket = {
      ts: iso(minute),
      impressions: c.impressions,
      clicks: c.clicks,
      invalid: {
        duplicate: c.clickDuplicate,
        bot: c.clickBot,
        prefetch: c.clickPrefetch,
        bad_signature: c.clickBadSignature,
        expired: c.clickExpired,
      },
      invalidImpressions: {
        duplicate: c.impressionDuplicate,
        bot: c.impressionBot,
        prefetch: c.impressionPrefetch,
        bad_signature: c.impressionBadSignature,
        expired: c.impressionExpired,
      },
      ctr: ctr(c.clicks, c.impressions),
      final: watermarkMs !== undefined && watermarkMs >= endMs,
    };
    impressions += b.impressions;
    clicks += b.clicks;
    series.push(b);
  }
  return { series, totals: { impressions, clicks, ctr: ctr(clicks, impressions), late } };
}

export function rangeBounds(range: SeriesRange): { from: string; to: string } {
  return { from: iso(range.fromMinute), to: iso(range.toMinute) };
}
