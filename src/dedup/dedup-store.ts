import type { DedupDecision, DedupKind } from '../aggregate/dedup-index.js';

/**
 * What a claim is about: the first valid impression or click of (ad, imp);
 * or, for `forward`, the first copy of a record a collector forwarded from
 * its spill log, `imp` holding the record's origin and `ad` 0 (a forward
 * replayed after a crash puts a second copy in the log).
 */
export type ClaimKind = DedupKind | 'forward';

/** One valid event asking whether it is the first of its kind for its impression (ad, imp). */
export interface DedupClaim {
  readonly kind: ClaimKind;
  readonly ad: number;
  readonly imp: string;
  /** Where the event is in the log: its partition and its offset there. */
  readonly partition: number;
  readonly offset: number;
  /** When the entry may be forgotten (ms since the epoch, event-time scale: the token's expiry plus margins). */
  readonly expiresAt: number;
}

/**
 * The dedup decision authority shared by every worker of a partitioned log
 * (`adtally worker`, SPEC 5 `--dedup redis://`). A hot ad's impression may be
 * read on two partitions (domain/partitioning.ts), so no partition can decide
 * alone.
 *
 * `claim` decides a batch atomically and in order: a claim is `first` when no
 * live entry exists for (kind, ad, imp), and the entry is then recorded with
 * the claim's position and expiry; or when the entry's position is the
 * claim's own (partition and offset): a replay of that very event after a
 * crash, whose counts were never committed. Any other claim is `duplicate`.
 * Within one batch, a later claim sees the entries of earlier ones.
 *
 * Entries are written before the store commit of the counts they produce
 * ("write-ahead"), so they never lag the committed offset; the replay rule
 * above is what makes that safe. A claim that rejects decided nothing the
 * caller may count: it retries the same batch.
 */
export interface DedupStore {
  claim(claims: readonly DedupClaim[]): Promise<DedupDecision[]>;
  /** Resolves when the store answers; rejects with the reason when not (for /readyz). */
  check(): Promise<void>;
  close(): Promise<void>;
}
