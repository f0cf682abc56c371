/**
 * Exact dedup of valid events by impression, an impression being the pair
 * (ad, imp) (SPEC 1: the same imp on another ad is another impression), in
 * memory and free of any storage, so a persistent backend can wrap it and
 * tests can run it directly.
 *
 * Crash safety rests on two rules the caller keeps:
 * - the entries returned by `takeNew()` are persisted in the same transaction
 *   as the counts they produced and the log offset that follows them (or, with
 *   a separate dedup store, no later than that transaction);
 * - events of one impression are applied in log-offset order.
 * A replay after a crash then re-applies events from the committed offset and
 * gets the same decisions: an entry first recorded at offset `o` answers
 * `first` again for the event at `o` itself (its counts were lost with the
 * crash) and `duplicate` for any other offset.
 */
export type DedupKind = 'impression' | 'click';

/**
 * The `ad` of an entry restored from a release that keyed dedup by imp alone
 * and whose ad could not be recovered (see migrate-dedup-ad.ts): it matches
 * every ad, which is that release's rule, so no event it already judged a
 * duplicate becomes billable. Catalog ad ids are positive, so 0 is free.
 */
export const ANY_AD = 0;

export interface DedupEntry {
  readonly kind: DedupKind;
  /** The ad of the impression, or ANY_AD. */
  readonly ad: number;
  readonly imp: string;
  /** Log offset of the first valid event of this kind for this (ad, imp). */
  readonly firstOffset: number;
  /** When the entry may be forgotten (ms, event-time scale). */
  readonly expiresAt: number;
}

export type DedupDecision = 'first' | 'duplicate';

interface MutableEntry {
  readonly kind: DedupKind;
  readonly ad: number;
  readonly imp: string;
  /** Changed only while restoring, where the lowest offset of several copies wins. */
  firstOffset: number;
  expiresAt: number;
  /** The `takeNew` round this entry is pending in, so it is listed once. */
  pendingRound: number;
  /** Another ad's entry for the same imp: rare, so a chain rather than a second Map level. */
  next: MutableEntry | undefined;
}

/**
 * One Map per kind, keyed by the imp string itself; its value is the entry of
 * one ad, chained to the entries of other ads with that imp. A composite key
 * such as `c:${imp}` (or `${ad}:${imp}`) would build and hash a new string on
 * every event, while the imp string from the decoder is hashed once and its
 * hash cached (measured: the composite key halved the aggregator's
 * throughput, 440k to 220k events/s). A Map per ad inside each shard
 * (shard -> ad -> imp) was measured too: its second lookup per event cost
 * 40% of the throughput (about 165k against 270-300k events per CPU-second
 * for this chain, as for the old imp-only key, over 3M synthetic events), for
 * the same memory; the chain is walked further only for an imp on several ads.
 *
 * V8 caps a Map at 2^24 (16.7M) entries, so each kind's ids are spread over
 * SHARDS maps by their last two characters: 268M distinct ids per kind before
 * that cap (ads sharing an id share its Map entry), far past what memory
 * holds (about 175 bytes an entry, imp string included: 10M entries ~ 1.75 GB).
 * A TTL window with more distinct impressions than memory needs a backend
 * that keeps them elsewhere.
 */
export class DedupIndex {
  readonly #clicks = new ShardedMap();
  readonly #impressions = new ShardedMap();
  #pending: MutableEntry[] = [];
  #round = 1;
  #size = 0;

  /** Restores persisted entries. Of two entries for the same key, the lower offset wins. */
  constructor(entries?: Iterable<DedupEntry>) {
    if (entries === undefined) return;
    for (const e of entries) {
      const map = this.#mapOf(e.kind);
      const head = map.get(e.imp);
      let known = head;
      while (known !== undefined && known.ad !== e.ad) known = known.next;
      if (known === undefined) {
        this.#link(map, head, {
          kind: e.kind,
          ad: e.ad,
          imp: e.imp,
          firstOffset: e.firstOffset,
          expiresAt: e.expiresAt,
          pendingRound: 0,
          next: undefined,
        });
        continue;
      }
      known.firstOffset = Math.min(known.firstOffset, e.firstOffset);
      known.expiresAt = Math.max(known.expiresAt, e.expiresAt);
    }
  }

  /**
   * `first` if (ad, imp) was never seen for this kind, or was first seen at
   * exactly this log offset (a replay of that very event after a crash); else
   * `duplicate`. Records new entries. An ANY_AD entry for `imp` answers for
   * every ad.
   *
   * When a later event carries a later expiry (the same impression signed
   * again with a later `ts`), the entry's expiry is extended and the entry is
   * listed again by `takeNew`, so the persisted copy must be upserted: keep
   * `firstOffset`, take the larger `expiresAt`.
   */
  decide(kind: DedupKind, ad: number, imp: string, offset: number, expiresAt: number): DedupDecision {
    const map = kind === 'click' ? this.#clicks : this.#impressions;
    const head = map.get(imp);
    let known = head;
    while (known !== undefined && known.ad !== ad && known.ad !== ANY_AD) known = known.next;
    if (known === undefined) {
      const entry: MutableEntry = {
        kind,
        ad,
        imp,
        firstOffset: offset,
        expiresAt,
        pendingRound: this.#round,
        next: undefined,
      };
      this.#link(map, head, entry);
      this.#pending.push(entry);
      return 'first';
    }
    if (expiresAt > known.expiresAt) {
      known.expiresAt = expiresAt;
      if (known.pendingRound !== this.#round) {
        known.pendingRound = this.#round;
        this.#pending.push(known);
      }
    }
    return known.firstOffset === offset ? 'first' : 'duplicate';
  }

  /**
   * Entries created (or whose expiry was extended) since the last call, as
   * fresh copies, to be persisted with the counts they produced; clears that
   * list.
   */
  takeNew(): DedupEntry[] {
    const pending = this.#pending;
    this.#pending = [];
    this.#round++;
    const taken: DedupEntry[] = new Array<DedupEntry>(pending.length);
    for (let i = 0; i < pending.length; i++) {
      const e = pending[i] as MutableEntry;
      taken[i] = { kind: e.kind, ad: e.ad, imp: e.imp, firstOffset: e.firstOffset, expiresAt: e.expiresAt };
    }
    return taken;
  }

  /**
   * Drops entries with `expiresAt < horizonMs`; returns how many were dropped.
   * Entries still waiting for `takeNew` stay listed there: persisting an entry
   * that is then expired is harmless, the store expires with the same horizon.
   */
  expire(horizonMs: number): number {
    const dropped = expireFrom(this.#clicks, horizonMs) + expireFrom(this.#impressions, horizonMs);
    this.#size -= dropped;
    return dropped;
  }

  /** How many (kind, ad, imp) entries are remembered. */
  get size(): number {
    return this.#size;
  }

  /** Adds `entry` for its imp, whose current chain starts at `head`. */
  #link(map: ShardedMap, head: MutableEntry | undefined, entry: MutableEntry): void {
    if (head === undefined) {
      map.set(entry.imp, entry);
    } else {
      // After the head, so the Map's value stays as it is.
      entry.next = head.next;
      head.next = entry;
    }
    this.#size++;
  }

  #mapOf(kind: DedupKind): ShardedMap {
    return kind === 'click' ? this.#clicks : this.#impressions;
  }
}

const SHARDS = 16;

/** Maps spread by key so no single Map reaches V8's 2^24-entry cap. */
class ShardedMap {
  readonly shards: Map<string, MutableEntry>[] = Array.from(
    { length: SHARDS },
    () => new Map<string, MutableEntry>(),
  );

  /** The key's last two characters pick the shard: cheap, and well spread for random ids. */
  #shardOf(key: string): Map<string, MutableEntry> {
    const n = key.length;
    return this.shards[((key.charCodeAt(n - 1) | 0) + (key.charCodeAt(n - 2) | 0) * 31) & (SHARDS - 1)]!;
  }

  get(key: string): MutableEntry | undefined {
    return this.#shardOf(key).get(key);
  }

  set(key: string, entry: MutableEntry): void {
    this.#shardOf(key).set(key, entry);
  }
}

function expireFrom(map: ShardedMap, horizonMs: number): number {
  let dropped = 0;
  for (const shard of map.shards) {
    for (const [imp, head] of shard) {
      if (head.next === undefined) {
        if (head.expiresAt < horizonMs) {
          shard.delete(imp);
          dropped++;
        }
        continue;
      }
      // Several ads share this imp: keep the chain of those still live.
      let kept: MutableEntry | undefined;
      for (let e: MutableEntry | undefined = head; e !== undefined;) {
        const next: MutableEntry | undefined = e.next;
        if (e.expiresAt < horizonMs) {
          dropped++;
        } else {
          e.next = kept;
          kept = e;
        }
        e = next;
      }
      if (kept === undefined) shard.delete(imp);
      else if (kept !== head) shard.set(imp, kept);
    }
  }
  return dropped;
}
