import type { TrackedEvent } from '../domain/event.js';
import { emptyCounts, type BucketCounts } from './counts.js';
import { DedupIndex, type DedupDecision, type DedupEntry } from './dedup-index.js';
import { minuteOf } from './minute.js';
import { Watermark } from './watermark.js';

export interface AggregatorOptions {
  /** SPEC 4.4 allowed lateness (ms). */
  allowedLatenessMs: number;
  /** Token validity after its `ts` (ms), the collector's `ADTALLY_CLICK_TTL`. */
  clickTtlMs: number;
  /** Restored state: the `maxEventTime` of the last committed drain. */
  maxEventTime?: number | undefined;
  /** Restored state: the dedup entries persisted up to the last committed drain. */
  dedup?: DedupIndex | undefined;
}

/**
 * What the counting rules read of an event: nothing else of a TrackedEvent
 * decides a count. Reconciliation feeds archive rows through the same rules
 * (reconcile/recompute.ts), and they carry these fields.
 */
export type CountedEvent = Pick<
  TrackedEvent,
  'type' | 'ad' | 'imp' | 'tokenTs' | 'eventTime' | 'receivedAt' | 'outcome'
>;

/** The change to one (ad, minute) bucket. */
export interface BucketDelta {
  readonly ad: number;
  readonly minute: number;
  readonly counts: BucketCounts;
}

export interface Drained {
  /** Keyed `${ad}:${minute}`. */
  deltas: Map<string, BucketDelta>;
  /** Deltas for minutes already final when their events were applied: kept apart, for reconciliation. */
  lateDeltas: Map<string, BucketDelta>;
  /** Dedup entries to upsert in the same transaction as the deltas. */
  newDedupEntries: DedupEntry[];
  /** To persist with the deltas; restores the watermark after a restart. */
  maxEventTime: number | undefined;
  /** Counted events that were behind the watermark when applied (a metric; not exactly-once). */
  lateEvents: number;
  /** Events applied, `unknown_ad` included. */
  events: number;
}

/**
 * Extra time a dedup entry is kept past its token's expiry. The collector
 * judged validity at receive time, so no valid event of a token is received
 * after `ts + TTL` (a batch line's `at` is also bounded by the token's
 * validity); but events reach the log out of event-time order (several
 * collectors, batches), so the allowed lateness is added for reordering, and a
 * minute more for skew between collectors' clocks.
 */
const CLOCK_SKEW_MARGIN_MS = 60_000;

function checkMs(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a finite number >= 0`);
}

/**
 * Applies decoded events in log order and accumulates per-(ad, minute) deltas
 * (SPEC 4.1), pure and deterministic: time comes only from event times.
 *
 * Exactly once: persist a `drain()` (deltas, dedup entries, `maxEventTime`)
 * atomically with the offset after the last applied event. After a crash,
 * restore an aggregator from that state and re-apply from that offset; the
 * replayed events get the same decisions, so committed deltas sum to a single
 * clean run's.
 */
export class MinuteAggregator {
  readonly watermark: Watermark;
  readonly #dedup: DedupIndex;
  readonly #expiryOffsetMs: number;
  /** minute -> ad -> counts. */
  #deltas = new Map<number, Map<number, BucketCounts>>();
  /** The last minute used and its map: most events fall in the current minute. */
  #lastMinute = NaN;
  #lastByAd: Map<number, BucketCounts> | undefined;
  #lateDeltas = new Map<string, BucketDelta>();
  #pendingBuckets = 0;
  #lateEvents = 0;
  #events = 0;

  constructor(options: AggregatorOptions) {
    checkMs('allowedLatenessMs', options.allowedLatenessMs);
    checkMs('clickTtlMs', options.clickTtlMs);
    this.watermark = new Watermark({
      allowedLatenessMs: options.allowedLatenessMs,
      maxEventTime: options.maxEventTime,
    });
    this.#dedup = options.dedup ?? new DedupIndex();
    this.#expiryOffsetMs = options.clickTtlMs + options.allowedLatenessMs + CLOCK_SKEW_MARGIN_MS;
  }

  /**
   * Applies one event read at `offset`. `unknown_ad` events only advance the
   * watermark (their event time is the collector's clock like any other, so a
   * partition carrying only them still shows time passing); invalid events are counted under their reason and never enter
   * dedup (an invalid click must not use up the impression's billable click);
   * valid events are `first` (billable) or `duplicate`. A late event still
   * counts in the minute of its own event time.
   *
   * `claimed` is the decision a shared dedup store made for this valid event
   * (a partitioned log: see dedup/dedup-store.ts); the in-memory index is then
   * not consulted.
   */
  apply(offset: number, event: CountedEvent, claimed?: DedupDecision): void {
    this.#events++;
    const time = event.eventTime;
    // A batch line's `at` may run up to 5 s ahead of the collector's clock; the
    // watermark only trusts the collector's clock, or it could finalise a
    // minute that on-time events are still arriving for.
    const clockTime = time < event.receivedAt ? time : event.receivedAt;
    const watermark = this.watermark;
    const outcome = event.outcome;
    if (outcome === 'unknown_ad') {
      watermark.observe(clockTime);
      return;
    }
    if (watermark.isLate(time)) this.#lateEvents++;
    const minute = minuteOf(time);
    // A minute already final keeps its counts (SPEC 3.3): a later event for it is set apart for
    // reconciliation. Judged before observing this event, by a watermark that only grows and is
    // restored with the offset, so a replay decides alike.
    const c = watermark.isFinal(minute)
      ? this.#lateCountsOf(event.ad, minute)
      : this.#countsOf(event.ad, minute);
    watermark.observe(clockTime);
    const click = event.type === 'click';
    switch (outcome) {
      case 'ok': {
        const decision =
          claimed ?? this.#dedup.decide(event.type, event.ad, event.imp, offset, this.dedupExpiryOf(event));
        const first = decision === 'first';
        if (click) {
          if (first) c.clicks++;
          else c.clickDuplicate++;
        } else if (first) c.impressions++;
        else c.impressionDuplicate++;
        return;
      }
      case 'bad_signature':
        if (click) c.clickBadSignature++;
        else c.impressionBadSignature++;
        return;
      case 'expired':
        if (click) c.clickExpired++;
        else c.impressionExpired++;
        return;
      case 'bot':
        if (click) c.clickBot++;
        else c.impressionBot++;
        return;
      case 'prefetch':
        if (click) c.clickPrefetch++;
        else c.impressionPrefetch++;
        return;
      default: {
        const unhandled: never = outcome;
        throw new TypeError(`unhandled outcome ${String(unhandled)}`);
      }
    }
  }

  /** When dedup may forget a valid event's impression: its token's expiry plus the margins above. */
  dedupExpiryOf(event: Pick<TrackedEvent, 'tokenTs'>): number {
    return event.tokenTs * 1000 + this.#expiryOffsetMs;
  }

  /**
   * The bucket of (ad, minute). Deltas are kept by minute then ad, both number
   * keys, so the hot path formats no string; the `${ad}:${minute}` keys are
   * built once per bucket at drain time.
   */
  #countsOf(ad: number, minute: number): BucketCounts {
    let byAd = this.#lastMinute === minute ? this.#lastByAd : undefined;
    if (byAd === undefined) {
      byAd = this.#deltas.get(minute);
      if (byAd === undefined) {
        byAd = new Map();
        this.#deltas.set(minute, byAd);
      }
      this.#lastMinute = minute;
      this.#lastByAd = byAd;
    }
    let counts = byAd.get(ad);
    if (counts === undefined) {
      counts = emptyCounts();
      byAd.set(ad, counts);
      this.#pendingBuckets++;
    }
    return counts;
  }

  /** Buckets of events for minutes that were already final when applied. */
  #lateCountsOf(ad: number, minute: number): BucketCounts {
    const key = `${ad}:${minute}`;
    let delta = this.#lateDeltas.get(key);
    if (delta === undefined) {
      delta = { ad, minute, counts: emptyCounts() };
      this.#lateDeltas.set(key, delta);
      this.#pendingBuckets++;
    }
    return delta.counts;
  }

  /** Buckets (ad, minute) touched since the last drain: bounds memory between commits. */
  pendingBuckets(): number {
    return this.#pendingBuckets;
  }

  /** Everything since the last drain; starts new deltas and counters. */
  drain(): Drained {
    const deltas = new Map<string, BucketDelta>();
    for (const [minute, byAd] of this.#deltas) {
      for (const [ad, counts] of byAd) deltas.set(`${ad}:${minute}`, { ad, minute, counts });
    }
    const drained: Drained = {
      deltas,
      lateDeltas: this.#lateDeltas,
      newDedupEntries: this.#dedup.takeNew(),
      maxEventTime: this.watermark.maxEventTime(),
      lateEvents: this.#lateEvents,
      events: this.#events,
    };
    this.#deltas = new Map();
    this.#lateDeltas = new Map();
    this.#pendingBuckets = 0;
    this.#lastMinute = NaN;
    this.#lastByAd = undefined;
    this.#lateEvents = 0;
    this.#events = 0;
    return drained;
  }

  /**
   * Drops dedup entries whose `expiresAt` is behind the watermark
   * (`maxEventTime - allowedLatenessMs`); returns how many. The persistent
   * store must expire with the same horizon, which the drained `maxEventTime`
   * gives it.
   */
  expireDedup(): number {
    const horizon = this.watermark.value();
    return horizon === undefined ? 0 : this.#dedup.expire(horizon);
  }

  /** How many (kind, ad, imp) entries dedup remembers (for the metric). */
  dedupSize(): number {
    return this.#dedup.size;
  }
}
