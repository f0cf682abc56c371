import type { DedupDecision } from '../aggregate/dedup-index.js';
import { assertValidClaims } from './dedup-claim-validation.js';
import type { ClaimKind, DedupClaim, DedupStore } from './dedup-store.js';

export interface MemoryDedupStoreOptions {
  /**
   * The instant entries are judged against (ms since the epoch). An entry is
   * live while `now <= expiresAt`. Defaults to the wall clock, like Redis's own;
   * tests pass a clock they move.
   */
  readonly clock?: () => number;
  /** How often (by that clock) a claim also sweeps out expired entries, so memory follows the TTL. */
  readonly sweepIntervalMs?: number;
}

interface Entry {
  readonly ad: number;
  partition: number;
  offset: number;
  expiresAt: number;
  /** Another ad's entry for the same imp: rare, so a chain rather than a second Map level. */
  next: Entry | undefined;
}

/**
 * The dedup store of one process, in memory (`--dedup memory:`): the same
 * decisions as the Redis store (see dedup-store.ts and docs/DEDUP-REDIS.md),
 * for a single worker, tests, and as the reference the contract suite checks
 * Redis against. It keeps nothing across restarts.
 *
 * It does not reuse DedupIndex: that index remembers an offset, not a
 * (partition, offset) position, and forgets by an event-time horizon the
 * caller sweeps, where a store shared by partitions forgets by a clock. The
 * layout is the index's, for the same reason (measured there): one Map per
 * kind keyed by the imp string itself, whose hash V8 caches, and a chain per
 * imp for the rare imp seen on several ads, instead of a composite key built
 * and hashed on every claim. A Map holds at most 2^24 (16.7M) imps per kind;
 * beyond that, use Redis.
 *
 * Rules, per claim in order (`now` read once per batch):
 * - expiresAt <= now (the claim is already expired, so it can only come from
 *   a late read of the log): `first` only when a live entry holds this very
 *   position, else `duplicate`; nothing is written. Deterministic: the answer
 *   depends on no earlier claim of the batch or of the replay.
 * - no live entry: `first`, and the entry is recorded with this position.
 * - a live entry: `first` iff it holds this position (the replay of that very
 *   event), else `duplicate`; a later expiresAt extends the entry.
 */
export class MemoryDedupStore implements DedupStore {
  readonly #impressions = new Map<string, Entry>();
  readonly #clicks = new Map<string, Entry>();
  readonly #forwards = new Map<string, Entry>();
  readonly #clock: () => number;
  readonly #sweepIntervalMs: number;
  #nextSweepAt: number;
  #closed = false;

  constructor(options: MemoryDedupStoreOptions = {}) {
    this.#clock = options.clock ?? Date.now;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
    this.#nextSweepAt = this.#clock() + this.#sweepIntervalMs;
  }

  claim(claims: readonly DedupClaim[]): Promise<DedupDecision[]> {
    if (this.#closed) return Promise.reject(new Error('the memory dedup store is closed'));
    try {
      assertValidClaims(claims);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const now = this.#clock();
    if (now >= this.#nextSweepAt) {
      this.#sweep(now);
      this.#nextSweepAt = now + this.#sweepIntervalMs;
    }
    const decisions = new Array<DedupDecision>(claims.length);
    for (let i = 0; i < claims.length; i++) decisions[i] = this.#decide(claims[i] as DedupClaim, now);
    return Promise.resolve(decisions);
  }

  check(): Promise<void> {
    return this.#closed ? Promise.reject(new Error('the memory dedup store is closed')) : Promise.resolve();
  }

  /** Nothing to acknowledge: this store loses its state only with its process. */
  acknowledgeLoss(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#impressions.clear();
    this.#clicks.clear();
    this.#forwards.clear();
    return Promise.resolve();
  }

  /** How many (kind, ad, imp) entries are held, expired ones not yet swept included. */
  get size(): number {
    let n = 0;
    for (const map of [this.#impressions, this.#clicks, this.#forwards]) {
      for (const head of map.values()) for (let e: Entry | undefined = head; e !== undefined; e = e.next) n++;
    }
    return n;
  }

  #decide(c: DedupClaim, now: number): DedupDecision {
    const map = this.#mapOf(c.kind);
    const head = map.get(c.imp);
    let found = head;
    while (found !== undefined && found.ad !== c.ad) found = found.next;
    const known = found;
    const live = known !== undefined && known.expiresAt >= now;
    if (c.expiresAt <= now) {
      return live && known.partition === c.partition && known.offset === c.offset ? 'first' : 'duplicate';
    }
    if (known === undefined) {
      const entry: Entry = {
        ad: c.ad,
        partition: c.partition,
        offset: c.offset,
        expiresAt: c.expiresAt,
        next: undefined,
      };
      if (head === undefined) map.set(c.imp, entry);
      else {
        // After the head, so the Map's value stays as it is.
        entry.next = head.next;
        head.next = entry;
      }
      return 'first';
    }
    if (!live) {
      // An expired entry not swept yet: as if absent, reused in place.
      known.partition = c.partition;
      known.offset = c.offset;
      known.expiresAt = c.expiresAt;
      return 'first';
    }
    if (c.expiresAt > known.expiresAt) known.expiresAt = c.expiresAt;
    return known.partition === c.partition && known.offset === c.offset ? 'first' : 'duplicate';
  }

  #mapOf(kind: ClaimKind): Map<string, Entry> {
    return kind === 'click' ? this.#clicks : kind === 'impression' ? this.#impressions : this.#forwards;
  }

  /** Drops entries expired at `now` (live while now <= expiresAt). */
  #sweep(now: number): void {
    for (const map of [this.#impressions, this.#clicks, this.#forwards]) {
      for (const [imp, head] of map) {
        let kept: Entry | undefined;
        for (let e: Entry | undefined = head; e !== undefined;) {
          const next: Entry | undefined = e.next;
          if (e.expiresAt >= now) {
            e.next = kept;
            kept = e;
          }
          e = next;
        }
        if (kept === undefined) map.delete(imp);
        else if (kept !== head) map.set(imp, kept);
      }
    }
  }
}
