import type { DedupEntry } from '../aggregate/dedup-index.js';
import type { ReadEventAt } from '../store/aggregate-store.js';

/**
 * Where the dedup state (which impressions (ad, imp) were seen, and at which
 * log offset first) survives a restart. The decisions are made by the in-memory
 * DedupIndex; a backend restores it at start.
 *
 * The embedded backend's entries are written inside the aggregate store's
 * commit, in the same transaction as the counts and the consumer offset: what
 * `adtally serve` uses, with one consumer of one log. A partitioned log's
 * workers instead claim every valid event in a store they share
 * (dedup-store.ts, Redis), written ahead of the commit under the same
 * "first again at its own position" rule.
 */
export interface DedupBackend {
  /**
   * Entries still live at `horizonMs` (expiring after that instant). State
   * written by a release that keyed dedup by imp alone is migrated first,
   * each entry's ad read from the log at its first offset.
   */
  load(horizonMs: number, readEventAt: ReadEventAt): Promise<DedupEntry[]>;
}
