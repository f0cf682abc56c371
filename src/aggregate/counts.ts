/**
 * The counters of one (ad, minute) bucket. `impressions` and `clicks` are the
 * billable ones: the first valid event of each impression id (SPEC 4.1). Every
 * other event is counted under its reason, never as billable.
 */
export interface BucketCounts {
  impressions: number;
  clicks: number;
  clickDuplicate: number;
  clickBot: number;
  clickPrefetch: number;
  clickBadSignature: number;
  clickExpired: number;
  impressionDuplicate: number;
  impressionBot: number;
  impressionPrefetch: number;
  impressionBadSignature: number;
  impressionExpired: number;
}

export type CountField = keyof BucketCounts;

/** Every counter, in a fixed order (the order of generated SQL columns and values). */
export const COUNT_FIELDS: readonly CountField[] = [
  'impressions',
  'clicks',
  'clickDuplicate',
  'clickBot',
  'clickPrefetch',
  'clickBadSignature',
  'clickExpired',
  'impressionDuplicate',
  'impressionBot',
  'impressionPrefetch',
  'impressionBadSignature',
  'impressionExpired',
];

/** The snake_case store column of each counter. */
export const COUNT_COLUMNS: Readonly<Record<CountField, string>> = {
  impressions: 'impressions',
  clicks: 'clicks',
  clickDuplicate: 'click_duplicate',
  clickBot: 'click_bot',
  clickPrefetch: 'click_prefetch',
  clickBadSignature: 'click_bad_signature',
  clickExpired: 'click_expired',
  impressionDuplicate: 'impression_duplicate',
  impressionBot: 'impression_bot',
  impressionPrefetch: 'impression_prefetch',
  impressionBadSignature: 'impression_bad_signature',
  impressionExpired: 'impression_expired',
};

/** All zeros. A literal (not built from COUNT_FIELDS) so every bucket has one hidden class. */
export function emptyCounts(): BucketCounts {
  return {
    impressions: 0,
    clicks: 0,
    clickDuplicate: 0,
    clickBot: 0,
    clickPrefetch: 0,
    clickBadSignature: 0,
    clickExpired: 0,
    impressionDuplicate: 0,
    impressionBot: 0,
    impressionPrefetch: 0,
    impressionBadSignature: 0,
    impressionExpired: 0,
  };
}

/** Adds `delta` into `into`, field by field; returns `into`. */
export function addCounts(into: BucketCounts, delta: Readonly<BucketCounts>): BucketCounts {
  for (const field of COUNT_FIELDS) into[field] += delta[field];
  return into;
}

/** True when every counter is zero. */
export function isZeroCounts(counts: Readonly<BucketCounts>): boolean {
  return COUNT_FIELDS.every((field) => counts[field] === 0);
}
