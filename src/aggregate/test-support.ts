/*
 * Helpers for this folder's tests only: a seeded PRNG, an event factory, a
 * model of the committed state (serving store + dedup store + offset) for
 * crash tests, and an oracle that counts straight from SPEC 4.1.
 */
import type { EventType, TrackedEvent } from '../domain/event.js';
import type { Outcome } from '../domain/outcome.js';
import { addCounts, emptyCounts, isZeroCounts, type BucketCounts, type CountField } from './counts.js';
import type { DedupEntry } from './dedup-index.js';
import { DedupIndex } from './dedup-index.js';
import { minuteOf } from './minute.js';
import { MinuteAggregator, type AggregatorOptions, type Drained } from './minute-aggregator.js';

export { seededRandom as mulberry32 } from '../domain/seeded-random.js';

const IP_HASH = Buffer.alloc(8);

export function makeEvent(fields: {
  type: EventType;
  ad: number;
  imp: string;
  eventTime: number;
  outcome?: Outcome;
  tokenTs?: number;
}): TrackedEvent {
  return {
    outcome: 'ok',
    tokenTs: Math.floor(fields.eventTime / 1000),
    receivedAt: fields.eventTime,
    ipHash: IP_HASH,
    userAgent: 'browser',
    source: 'get',
    ...fields,
  };
}

/** Counts by `${ad}:${minute}`, all-zero buckets left out so two totals compare with deepEqual. */
export type Totals = Map<string, BucketCounts>;

export function addDeltas(into: Totals, deltas: Drained['deltas']): Totals {
  for (const [key, delta] of deltas) {
    const total = into.get(key) ?? emptyCounts();
    addCounts(total, delta.counts);
    if (isZeroCounts(total)) into.delete(key);
    else into.set(key, total);
  }
  return into;
}

/** Sorted plain object, for readable assertion diffs. */
export function asRecord(totals: Totals): Record<string, BucketCounts> {
  return Object.fromEntries([...totals].sort(([a], [b]) => a.localeCompare(b)));
}

/** One clean run: every event applied once, drained once. */
export function cleanRun(options: AggregatorOptions, events: readonly TrackedEvent[]): Totals {
  const agg = new MinuteAggregator(options);
  events.forEach((event, offset) => agg.apply(offset, event));
  const drained = agg.drain();
  return addDeltas(addDeltas(new Map(), drained.deltas), drained.lateDeltas);
}

const REASON_FIELD: Record<Exclude<Outcome, 'ok' | 'unknown_ad'>, [CountField, CountField]> = {
  bad_signature: ['clickBadSignature', 'impressionBadSignature'],
  expired: ['clickExpired', 'impressionExpired'],
  bot: ['clickBot', 'impressionBot'],
  prefetch: ['clickPrefetch', 'impressionPrefetch'],
};

/** Counts straight from SPEC 4.1, with no dedup index nor watermark: the first valid event in log order is billable. */
export function oracle(events: readonly TrackedEvent[]): Totals {
  const seen = new Set<string>();
  const totals: Totals = new Map();
  for (const e of events) {
    if (e.outcome === 'unknown_ad') continue;
    const click = e.type === 'click';
    let field: CountField;
    if (e.outcome === 'ok') {
      // An impression is the pair (ad, imp) (SPEC 1).
      const key = `${e.type}/${e.ad}/${e.imp}`;
      const first = !seen.has(key);
      seen.add(key);
      if (click) field = first ? 'clicks' : 'clickDuplicate';
      else field = first ? 'impressions' : 'impressionDuplicate';
    } else {
      field = REASON_FIELD[e.outcome][click ? 0 : 1];
    }
    const key = `${e.ad}:${minuteOf(e.eventTime)}`;
    const counts = totals.get(key) ?? emptyCounts();
    counts[field]++;
    totals.set(key, counts);
  }
  return totals;
}

/**
 * What survives a crash: the serving store's counts, the dedup store and the
 * worker's committed offset. `commit` is one transaction; `persistDedupOnly`
 * models a separate dedup store (Redis) written ahead of that transaction.
 */
export class CommittedState {
  readonly totals: Totals = new Map();
  readonly dedup = new Map<string, DedupEntry>();
  maxEventTime: number | undefined;
  nextOffset = 0;

  constructor(readonly options: AggregatorOptions) {}

  commit(drained: Drained, nextOffset: number): void {
    // Counts set apart for already-final minutes are kept too (reconciliation folds them in).
    addDeltas(addDeltas(this.totals, drained.deltas), drained.lateDeltas);
    this.persistDedupOnly(drained.newDedupEntries);
    this.maxEventTime = drained.maxEventTime;
    this.nextOffset = nextOffset;
    if (drained.maxEventTime !== undefined) {
      const horizon = drained.maxEventTime - this.options.allowedLatenessMs;
      for (const [key, entry] of this.dedup) if (entry.expiresAt < horizon) this.dedup.delete(key);
    }
  }

  /** Upsert: keep the first offset, take the later expiry. */
  persistDedupOnly(entries: readonly DedupEntry[]): void {
    for (const entry of entries) {
      const key = `${entry.kind}/${entry.ad}/${entry.imp}`;
      const known = this.dedup.get(key);
      this.dedup.set(
        key,
        known === undefined ? entry : { ...known, expiresAt: Math.max(known.expiresAt, entry.expiresAt) },
      );
    }
  }

  /** A new worker process, restored from what was committed. */
  restore(): MinuteAggregator {
    return new MinuteAggregator({
      ...this.options,
      maxEventTime: this.maxEventTime,
      dedup: new DedupIndex(this.dedup.values()),
    });
  }
}
