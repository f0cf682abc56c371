/** Time ranges and granularities as the query API takes them (SPEC 3.3). */
export type Granularity = 'minute' | 'hour' | 'day';
export const BUCKET_MINUTES: Readonly<Record<Granularity, number>> = { minute: 1, hour: 60, day: 1440 };
/** SPEC 3.3: at most this many buckets a request; the page never asks for more. */
export const MAX_BUCKETS = 10_080;
const MINUTE_MS = 60_000;

export type Preset = '1h' | '24h' | '7d' | 'custom';
export const PRESET_MS: Readonly<Record<Exclude<Preset, 'custom'>, number>> = {
  '1h': 3_600_000,
  '24h': 86_400_000,
  '7d': 604_800_000,
};

export interface Range {
  fromMs: number;
  toMs: number;
  granularity: Granularity;
}

/** The last `spanMs`, ending after the current minute (so it is shown), in whole minutes. */
export function lastSpan(spanMs: number, nowMs: number): { fromMs: number; toMs: number } {
  const toMs = (Math.floor(nowMs / MINUTE_MS) + 1) * MINUTE_MS;
  return { fromMs: toMs - spanMs, toMs };
}

/** Buckets the server will answer for this range (it widens it to whole buckets, as series.ts does). */
export function bucketCount(range: Range): number {
  const bucket = BUCKET_MINUTES[range.granularity];
  const from = Math.floor(range.fromMs / MINUTE_MS / bucket) * bucket;
  const to = Math.ceil(range.toMs / MINUTE_MS / bucket) * bucket;
  return (to - from) / bucket;
}

/** Why this range cannot be asked for, or undefined when it can. */
export function rangeProblem(range: Range): string | undefined {
  if (!Number.isFinite(range.fromMs) || !Number.isFinite(range.toMs)) return 'pick both a start and an end';
  if (range.fromMs >= range.toMs) return 'the start must be before the end';
  const n = bucketCount(range);
  if (n > MAX_BUCKETS) {
    return `${n.toLocaleString('en-US')} ${range.granularity} buckets: at most ${MAX_BUCKETS.toLocaleString('en-US')}; pick a coarser granularity`;
  }
  return undefined;
}

export function rangeQuery(range: Range): string {
  return new URLSearchParams({
    from: new Date(range.fromMs).toISOString(),
    to: new Date(range.toMs).toISOString(),
    granularity: range.granularity,
  }).toString();
}

/** `<input type="datetime-local">` value of an instant, in the browser's zone. */
export function toLocalInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * MINUTE_MS);
  return d.toISOString().slice(0, 16);
}
export function fromLocalInput(value: string): number {
  return value === '' ? Number.NaN : new Date(value).getTime();
}
