import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HotAdDetector } from './hot-ads.js';

function clocked(options: { thresholdPerSecond: number; holdMs?: number }) {
  let now = 0;
  const detector = new HotAdDetector({ ...options, now: () => now });
  return {
    detector,
    advance: (ms: number): void => {
      now += ms;
    },
  };
}

test('an ad is not hot at or below the threshold, and is hot above it', () => {
  const { detector } = clocked({ thresholdPerSecond: 10 });
  for (let i = 0; i < 10; i++) assert.equal(detector.observe(7), false);
  assert.equal(detector.observe(7), true);
  assert.equal(detector.isHot(7), true);
  assert.equal(detector.isHot(8), false);
});

test('the rate is over the last second: events spread over more than a second do not make an ad hot', () => {
  const { detector, advance } = clocked({ thresholdPerSecond: 10 });
  for (let i = 0; i < 30; i++) {
    assert.equal(detector.observe(1), false, `event ${i}`);
    advance(200); // 5 events/s
  }
});

test('the previous second counts by how much of it lies in the last second', () => {
  const { detector, advance } = clocked({ thresholdPerSecond: 10 });
  advance(900);
  for (let i = 0; i < 10; i++) detector.observe(1); // 10 events at t=0.9 s
  advance(200); // t=1.1 s: 90% of the previous bucket still counts: 9 + 1 = 10, not above
  assert.equal(detector.observe(1), false);
  assert.equal(detector.observe(1), true); // 9 + 2 = 11
});

test('a hot ad stays hot for the hold time after its rate fell, then is not', () => {
  const { detector, advance } = clocked({ thresholdPerSecond: 5, holdMs: 10_000 });
  for (let i = 0; i < 6; i++) detector.observe(3);
  assert.equal(detector.isHot(3), true);
  advance(9_999);
  assert.equal(detector.observe(3), true);
  advance(1); // the event at 9.999 s did not extend the hold: its rate was 1/s
  assert.equal(detector.isHot(3), false);
  assert.equal(detector.observe(3), false);
});

test('ads with no recent traffic are forgotten, hot ones only after their hold', () => {
  const { detector, advance } = clocked({ thresholdPerSecond: 2, holdMs: 30_000 });
  detector.observe(1);
  for (let i = 0; i < 3; i++) detector.observe(2);
  advance(10_000);
  detector.observe(5); // triggers the sweep
  assert.equal(detector.trackedAds(), 2, 'ad 1 dropped, hot ad 2 kept, ad 5 new');
  advance(30_000);
  detector.observe(5);
  assert.equal(detector.trackedAds(), 1);
});

test('a bad threshold is refused', () => {
  assert.throws(() => new HotAdDetector({ thresholdPerSecond: 0 }), /threshold must be > 0/);
});
