import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../domain/seeded-random.js';
import { expectationOf, TrafficPlan, type PlannedEvent, type TrafficMix } from './traffic-plan.js';

const NONE: TrafficMix = {
  ctr: 0.5,
  clicksOnly: false,
  dupRate: 0,
  badSigRate: 0,
  expiredRate: 0,
  botRate: 0,
  prefetchRate: 0,
  lateRate: 0,
  zipf: 0,
};

/** Plays `n` events, answering each at once with a fresh token; returns them. */
function play(plan: TrafficPlan, n: number): PlannedEvent[] {
  const events: PlannedEvent[] = [];
  for (let i = 0; i < n; i++) {
    const e = plan.next();
    events.push(e);
    const token =
      e.kind === 'fresh' ? { ad: e.ad, imp: `imp_${String(i).padStart(8, '0')}`, ts: 1, sig: 's' } : e.token;
    const type = e.kind === 'click' ? 'click' : e.type;
    plan.answered(e, type, token);
  }
  return events;
}

const share = (events: PlannedEvent[], test: (e: PlannedEvent) => boolean): number =>
  events.filter(test).length / events.length;

describe('TrafficPlan', () => {
  it('draws each kind of invalid traffic at its rate', () => {
    const mix = {
      ...NONE,
      dupRate: 0.1,
      badSigRate: 0.05,
      expiredRate: 0.05,
      botRate: 0.1,
      prefetchRate: 0.02,
      lateRate: 0.1,
    };
    const events = play(new TrafficPlan(mix, [1, 2, 3], seededRandom(1)), 40_000);
    const near = (actual: number, expected: number) =>
      assert.ok(Math.abs(actual - expected) < 0.01, `${actual} vs ${expected}`);
    near(
      share(events, (e) => e.kind === 'duplicate'),
      0.1,
    );
    near(
      share(events, (e) => expectationOf(e) === 'bad_signature'),
      0.9 * 0.05,
    );
    near(
      share(events, (e) => expectationOf(e) === 'bot'),
      0.9 * 0.1,
    );
    near(
      share(events, (e) => expectationOf(e) === 'prefetch'),
      0.9 * 0.02,
    );
    near(
      share(events, (e) => e.kind === 'fresh' && e.late),
      0.9 * 0.78 * 0.1,
    );
  });

  it('sends clicks at the click-through rate, each on an impression already answered, once', () => {
    const events = play(new TrafficPlan({ ...NONE, ctr: 0.25 }, [1], seededRandom(2)), 20_000);
    const clicks = events.filter((e) => e.kind === 'click');
    const impressions = events.filter((e) => e.kind === 'fresh' && e.type === 'impression');
    assert.ok(Math.abs(clicks.length / impressions.length - 0.25) < 0.02);
    const clicked = clicks.map((e) => (e.kind === 'click' ? e.token.imp : ''));
    assert.equal(new Set(clicked).size, clicked.length);
  });

  it('duplicates only answered billable events, so every duplicate is one', () => {
    const plan = new TrafficPlan({ ...NONE, dupRate: 0.5, botRate: 0.3 }, [1], seededRandom(3));
    assert.notEqual(plan.next().kind, 'duplicate'); // nothing answered yet
    const events = play(plan, 5_000);
    const billableImps = new Set<string>();
    for (const [i, e] of events.entries()) {
      if (e.kind === 'duplicate') assert.ok(billableImps.has(e.token.imp), 'duplicate of a billable event');
      if (e.kind === 'fresh' && e.invalid === undefined)
        billableImps.add(`imp_${String(i).padStart(8, '0')}`);
    }
  });

  it('skews traffic towards the first ads with a Zipf exponent', () => {
    const ads = Array.from({ length: 100 }, (_, i) => i + 1);
    const events = play(
      new TrafficPlan({ ...NONE, clicksOnly: true, zipf: 1.2 }, ads, seededRandom(4)),
      20_000,
    );
    const onFirst = share(events, (e) => e.kind === 'fresh' && e.ad === 1);
    const onLast = share(events, (e) => e.kind === 'fresh' && e.ad === 100);
    assert.ok(onFirst > 20 * onLast, `${onFirst} vs ${onLast}`);
    assert.ok(events.every((e) => e.kind === 'fresh' && e.type === 'click'));
  });
});
