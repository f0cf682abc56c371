import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EventType } from '../domain/event.js';
import type { Outcome } from '../domain/outcome.js';
import { COUNT_FIELDS, emptyCounts, type CountField } from './counts.js';
import { minuteOf } from './minute.js';
import { MinuteAggregator } from './minute-aggregator.js';
import {
  addDeltas,
  asRecord,
  cleanRun,
  CommittedState,
  makeEvent,
  oracle,
  type Totals,
} from './test-support.js';

const T = Date.UTC(2026, 10, 23, 10, 14, 0);
const M0 = minuteOf(T);
const OPTIONS = { allowedLatenessMs: 5_000, clickTtlMs: 86_400_000 };

// [what, type, ad, imp, outcome, event time - T, the counter it adds to (null: none), late?]
type Row = [string, EventType, number, string, Outcome, number, CountField | null, boolean?];
const ROWS: Row[] = [
  ['first impression', 'impression', 1, 'imp-A0000000', 'ok', 1_000, 'impressions'],
  ['second impression of the same imp', 'impression', 1, 'imp-A0000000', 'ok', 2_000, 'impressionDuplicate'],
  ['badly signed click', 'click', 1, 'imp-A0000000', 'bad_signature', 3_000, 'clickBadSignature'],
  ['expired click', 'click', 1, 'imp-A0000000', 'expired', 4_000, 'clickExpired'],
  ['bot click', 'click', 1, 'imp-A0000000', 'bot', 5_000, 'clickBot'],
  ['prefetch click', 'click', 1, 'imp-A0000000', 'prefetch', 6_000, 'clickPrefetch'],
  ['first valid click, after invalid ones', 'click', 1, 'imp-A0000000', 'ok', 10_000, 'clicks'],
  ['second valid click', 'click', 1, 'imp-A0000000', 'ok', 11_000, 'clickDuplicate'],
  [
    'the same imp clicked on another ad: another impression',
    'click',
    2,
    'imp-A0000000',
    'ok',
    11_200,
    'clicks',
  ],
  ['its second click on that ad', 'click', 2, 'imp-A0000000', 'ok', 11_400, 'clickDuplicate'],
  ['impression of another ad', 'impression', 2, 'imp-B0000000', 'ok', 12_000, 'impressions'],
  ['bot impression', 'impression', 2, 'imp-B0000000', 'bot', 13_000, 'impressionBot'],
  ['prefetch impression', 'impression', 2, 'imp-B0000000', 'prefetch', 14_000, 'impressionPrefetch'],
  [
    'badly signed impression',
    'impression',
    2,
    'imp-B0000000',
    'bad_signature',
    15_000,
    'impressionBadSignature',
  ],
  ['expired impression', 'impression', 2, 'imp-B0000000', 'expired', 16_000, 'impressionExpired'],
  ['unknown ad', 'click', 99, 'imp-Z0000000', 'unknown_ad', 17_000, null],
  ['click at exactly 60,000 ms: next minute', 'click', 2, 'imp-B0000000', 'ok', 60_000, 'clicks'],
  ['impression at 59,999 ms, within lateness', 'impression', 1, 'imp-C0000000', 'ok', 59_999, 'impressions'],
  ['click in the next minute', 'click', 1, 'imp-C0000000', 'ok', 70_000, 'clicks'],
  ['late duplicate, in its own minute', 'click', 2, 'imp-B0000000', 'ok', 50_000, 'clickDuplicate', true],
  ['late first click, in its own minute', 'click', 1, 'imp-D0000000', 'ok', 40_000, 'clicks', true],
  ['duplicate in a later minute', 'click', 1, 'imp-A0000000', 'ok', 71_000, 'clickDuplicate'],
];
const EVENTS = ROWS.map(([, type, ad, imp, outcome, dt]) =>
  makeEvent({ type, ad, imp, outcome, eventTime: T + dt }),
);

function expectedTotals(): Totals {
  const totals: Totals = new Map();
  for (const [, , ad, , , dt, field] of ROWS) {
    if (field === null) continue;
    const key = `${ad}:${minuteOf(T + dt)}`;
    const counts = totals.get(key) ?? emptyCounts();
    counts[field]++;
    totals.set(key, counts);
  }
  return totals;
}

describe('MinuteAggregator', () => {
  it('the table covers every counter and two minutes', () => {
    assert.deepEqual(new Set(ROWS.map((r) => r[6]).filter((f) => f !== null)), new Set(COUNT_FIELDS));
    assert.deepEqual([...expectedTotals().keys()].sort(), [
      `1:${M0}`,
      `1:${M0 + 1}`,
      `2:${M0}`,
      `2:${M0 + 1}`,
    ]);
  });

  ROWS.forEach(([what, , ad, , , dt, field, late], i) => {
    it(`row ${i}: ${what} -> ${field ?? 'nothing'}${late === true ? ' (late)' : ''}`, () => {
      const agg = new MinuteAggregator(OPTIONS);
      EVENTS.slice(0, i).forEach((e, offset) => agg.apply(offset, e));
      agg.drain();
      agg.apply(i, EVENTS[i]!);
      const drained = agg.drain();
      assert.equal(drained.events, 1);
      assert.equal(drained.lateEvents, late === true ? 1 : 0);
      if (field === null) return assert.equal(drained.deltas.size + drained.lateDeltas.size, 0);
      const minute = minuteOf(T + dt);
      // Rows for a minute that is already final land in lateDeltas (SPEC 3.3), the rest in deltas.
      const finalBefore = agg.watermark.isFinal(minute);
      assert.equal((finalBefore ? drained.deltas : drained.lateDeltas).size, 0);
      assert.deepEqual(
        [...(finalBefore ? drained.lateDeltas : drained.deltas)],
        [[`${ad}:${minute}`, { ad, minute, counts: { ...emptyCounts(), [field]: 1 } }]],
      );
    });
  });

  it('counts the whole table exactly, per (ad, minute)', () => {
    const agg = new MinuteAggregator(OPTIONS);
    EVENTS.forEach((e, offset) => agg.apply(offset, e));
    const drained = agg.drain();
    const all = addDeltas(addDeltas(new Map(), drained.deltas), drained.lateDeltas);
    assert.deepEqual(asRecord(all), asRecord(expectedTotals()));
    assert.deepEqual(asRecord(oracle(EVENTS)), asRecord(expectedTotals()), 'the test oracle agrees');
    assert.equal(drained.events, ROWS.length);
    assert.equal(drained.lateEvents, 2);
    assert.equal(drained.maxEventTime, T + 71_000);
    assert.equal(
      drained.newDedupEntries.length,
      8,
      'impressions 1/A, 2/B, 1/C and clicks 1/A, 2/A, 2/B, 1/C, 1/D',
    );
    assert.equal(agg.dedupSize(), 8);
    const next = agg.drain();
    assert.deepEqual(
      [next.deltas.size, next.newDedupEntries.length, next.events, next.lateEvents],
      [0, 0, 0, 0],
    );
    assert.equal(next.maxEventTime, T + 71_000);
  });

  it('advances the watermark on unknown-ad events too', () => {
    const agg = new MinuteAggregator(OPTIONS);
    agg.apply(
      0,
      makeEvent({ type: 'click', ad: 9, imp: 'imp-Z0000000', outcome: 'unknown_ad', eventTime: T }),
    );
    assert.equal(agg.watermark.maxEventTime(), T);
  });

  it('expires dedup entries behind the watermark only', () => {
    const ttl = 60_000;
    const agg = new MinuteAggregator({ ...OPTIONS, clickTtlMs: ttl });
    const tokenTs = T / 1000;
    agg.apply(0, makeEvent({ type: 'click', ad: 1, imp: 'imp-A0000000', tokenTs, eventTime: T }));
    // expiresAt = ts + TTL + lateness + 60 s; the horizon is max - lateness.
    const expiresAt = T + ttl + 5_000 + 60_000;
    agg.apply(1, makeEvent({ type: 'click', ad: 1, imp: 'imp-B0000000', eventTime: expiresAt + 5_000 }));
    assert.equal(agg.expireDedup(), 0);
    agg.apply(2, makeEvent({ type: 'click', ad: 1, imp: 'imp-C0000000', eventTime: expiresAt + 5_001 }));
    assert.equal(agg.expireDedup(), 1);
    assert.equal(agg.dedupSize(), 2);
    assert.equal(new MinuteAggregator(OPTIONS).expireDedup(), 0, 'nothing seen: nothing to expire');
  });

  it('refuses negative or non-finite settings', () => {
    assert.throws(() => new MinuteAggregator({ allowedLatenessMs: -1, clickTtlMs: 0 }), RangeError);
    assert.throws(() => new MinuteAggregator({ allowedLatenessMs: 0, clickTtlMs: NaN }), RangeError);
  });

  describe('replay after a crash, for every crash offset k', () => {
    const clean = asRecord(cleanRun(OPTIONS, EVENTS));
    for (const dedupAhead of [false, true]) {
      const how = dedupAhead ? 'dedup store written past k' : 'one transaction';
      for (let k = 0; k <= EVENTS.length; k++) {
        it(`${how}, k = ${k}: committed deltas up to k plus the replay from k equal one clean run`, () => {
          const state = new CommittedState(OPTIONS);
          const first = new MinuteAggregator(OPTIONS);
          EVENTS.slice(0, k).forEach((e, i) => first.apply(i, e));
          state.commit(first.drain(), k);
          for (let i = k; i < EVENTS.length; i++) first.apply(i, EVENTS[i]!);
          const lost = first.drain(); // crash before this drain commits
          if (dedupAhead) state.persistDedupOnly(lost.newDedupEntries);
          const second = state.restore();
          for (let i = state.nextOffset; i < EVENTS.length; i++) second.apply(i, EVENTS[i]!);
          state.commit(second.drain(), EVENTS.length);
          assert.deepEqual(asRecord(state.totals), clean);
        });
      }
    }
  });
});

describe('watermark source', () => {
  it('never advances past the collector clock, even for a batch `at` ahead of it', () => {
    const agg = new MinuteAggregator({ allowedLatenessMs: 1_000, clickTtlMs: 86_400_000 });
    const now = 1_800_000_000_000 + 57_000; // 3 s before a minute ends
    agg.apply(0, {
      ...makeEvent({ type: 'click', ad: 2, imp: 'imp-F0000000', outcome: 'ok', eventTime: now + 4_800 }),
      receivedAt: now,
    });
    assert.equal(agg.watermark.maxEventTime(), now);
    // The current minute is not final, so an on-time click lands in the serving counts.
    agg.apply(
      1,
      makeEvent({ type: 'click', ad: 1, imp: 'imp-G0000000', outcome: 'ok', eventTime: now + 100 }),
    );
    const drained = agg.drain();
    assert.equal(drained.lateDeltas.size, 0);
    assert.equal(drained.deltas.get(`1:${minuteOf(now + 100)}`)?.counts.clicks, 1);
  });
});
