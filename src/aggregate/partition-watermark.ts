import type { CheckpointRow } from '../store/aggregate-store.js';

/**
 * A partition that committed nothing for this long is idle: it is left out
 * of the watermark, or one partition without traffic would hold every
 * minute open forever. Its own events, when they come, are judged against
 * its own watermark (each partition's worker keeps one), so leaving it out
 * can only make a `final` flag show early, never move a count.
 */
export const IDLE_PARTITION_MS = 5_000;

/**
 * The watermark of a partitioned log's aggregates (SPEC 4.4), as the query
 * side sees it: the lowest `maxEventTime` over the partitions that committed
 * within `idleMs`, minus the allowed lateness. With every partition idle
 * (traffic stopped: nothing was read anywhere for `idleMs`), the highest over
 * all, so the last minutes of a run become final too. Undefined before any
 * commit.
 */
export function watermarkOverPartitions(
  rows: readonly CheckpointRow[],
  now: number,
  allowedLatenessMs: number,
  idleMs: number = IDLE_PARTITION_MS,
): number | undefined {
  let activeLow: number | undefined;
  let allHigh: number | undefined;
  for (const row of rows) {
    const max = row.checkpoint.maxEventTime;
    if (max === undefined) continue;
    if (allHigh === undefined || max > allHigh) allHigh = max;
    if (now - row.committedAt <= idleMs && (activeLow === undefined || max < activeLow)) activeLow = max;
  }
  const low = activeLow ?? allHigh;
  return low === undefined ? undefined : low - allowedLatenessMs;
}
