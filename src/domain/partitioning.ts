/**
 * Which partition of a partitioned event log an event goes to (SPEC 5: the
 * log is partitioned by ad id; hot ads are salted by impression id). Pure, so
 * collectors, tests and the capacity model agree on it.
 *
 * An ad's events go to its home partition. An ad the collector sees as hot
 * (see ingest/hot-ads.ts) is spread over `spread` consecutive partitions from
 * its home, chosen by a hash of the impression id, so one viral ad never
 * makes one partition, or the one worker that owns it, the bottleneck; the
 * counts of its partitions add up in the store (additive upserts).
 *
 * Because hotness is judged per collector and changes over time, two events
 * of one impression may land on different partitions: dedup is therefore
 * decided by a store every partition shares (Redis), never per partition.
 */
export function homePartition(ad: number, partitions: number): number {
  return ad % partitions;
}

/** 32-bit FNV-1a of the impression id's UTF-16 code units: cheap and well spread for base64url ids. */
export function impHash(imp: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < imp.length; i++) {
    h ^= imp.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The partition of an event of `ad` with impression `imp`; `spread` is 1 for an ad that is not hot. */
export function partitionOf(ad: number, imp: string, partitions: number, spread: number): number {
  const home = homePartition(ad, partitions);
  if (spread <= 1 || partitions <= 1) return home;
  return (home + (impHash(imp) % Math.min(spread, partitions))) % partitions;
}
