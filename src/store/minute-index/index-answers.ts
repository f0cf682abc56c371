import type { MinuteIndex } from './minute-index.js';

/**
 * Series queries answered from the minute index read at most this many
 * (ad, hour) blocks; larger ones (a campaign of hundreds of ads) run in
 * DuckDB, on its threads, rather than block the event loop.
 */
export const MAX_INDEX_BLOCKS = 4096;

/** Whether `index` answers a series of `ads` over [fromMinute, toMinute), rather than the store. */
export function indexAnswers(
  index: MinuteIndex | undefined,
  ads: readonly number[],
  fromMinute: number,
  toMinute: number,
): boolean {
  const blocks = ads.length * (Math.ceil(toMinute / 60) - Math.floor(fromMinute / 60));
  return blocks <= MAX_INDEX_BLOCKS && index?.covers(fromMinute, toMinute) === true;
}
