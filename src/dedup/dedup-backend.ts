import type { DedupEntry } from '../aggregate/dedup-index.js';
import type { ReadEventAt } from '../store/aggregate-store.js';

/**
 * Where the dedup state (which impressions (ad, imp) were seen, and at which
 * log offset first) survives a restart. The decisions are made by the in-memory
 * DedupIndex; a backend restores it at start.
 *
 * The embedded backend's entries are written inside the aggregate store's
 * commit, in the same transaction as the counts and the consumer offset. A
 * backend outside the store (Redis, to come) must instead write its entries
 * before that commit ("write-ahead"): if the process dies between the two, the
 * replay from the committed offset meets entries whose first offset is the
 * replayed event's own, which DedupIndex answers `first` again, so the event is
 * counted once. Entries must never lag the committed offset.
 */
export interface DedupBackend {
  /**
   * Entries still live at `horizonMs` (expiring after that instant). State
   * written by a release that keyed dedup by imp alone is migrated first,
   * each entry's ad read from the log at its first offset.
   */
  load(horizonMs: number, readEventAt: ReadEventAt): Promise<DedupEntry[]>;
}
