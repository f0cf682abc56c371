import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../domain/seeded-random.js';
import { LatencyHistogram } from './latency-histogram.js';

const PERCENTILES = [0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99];

/** Nearest-rank percentile of a sorted array: the definition the histogram approximates. */
function exactPercentile(sorted: number[], p: number): number {
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

/** Log-uniform values from 1 µs to 60 s, so every decade of the range is exercised. */
function logUniform(seed: number, n: number): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => 0.001 * 60_000_000 ** random());
}

function assertClose(actual: number, expected: number, what: string): void {
  // The documented bound: 0.4 % (half a bucket) plus 0.05 µs of rounding; 0.5 % and 0.1 µs here.
  const tolerance = Math.max(expected * 0.005, 0.0001);
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} vs exact ${expected}`);
}

describe('LatencyHistogram', () => {
  for (const seed of [1, 2, 3]) {
    it(`matches exact percentiles of 50 000 log-uniform values within 0.5 % (seed ${seed})`, () => {
      const values = logUniform(seed, 50_000);
      const h = new LatencyHistogram();
      for (const v of values) h.record(v);
      const sorted = [...values].sort((a, b) => a - b);
      for (const p of PERCENTILES) assertClose(h.percentile(p), exactPercentile(sorted, p), `p${p}`);
      assert.equal(h.count, values.length);
      assert.equal(h.max, sorted.at(-1));
      assert.equal(h.min, sorted[0]);
      assert.equal(h.percentile(100), sorted.at(-1));
      assert.equal(h.percentile(0), sorted[0]);
      assertClose(h.mean, values.reduce((a, b) => a + b, 0) / values.length, 'mean');
    });
  }

  it('is within 0.5 % for narrow clusters, like loopback HTTP latencies', () => {
    const random = seededRandom(9);
    const values = Array.from({ length: 20_000 }, () => 0.08 + random() * 0.05 + (random() < 0.01 ? 20 : 0));
    const h = new LatencyHistogram();
    for (const v of values) h.record(v);
    const sorted = [...values].sort((a, b) => a - b);
    for (const p of PERCENTILES) assertClose(h.percentile(p), exactPercentile(sorted, p), `p${p}`);
  });

  it('keeps sub-microsecond and exact small values', () => {
    const h = new LatencyHistogram();
    for (const v of [0, 0.0005, 0.0012, 0.0012, 0.0101]) h.record(v);
    assert.equal(h.percentile(20), 0);
    assertClose(h.percentile(40), 0.0005, 'p40');
    assertClose(h.percentile(80), 0.0012, 'p80');
    assert.equal(h.percentile(100), 0.0101);
  });

  it('merges to the same result as recording everything in one', () => {
    const a = logUniform(4, 10_000);
    const b = logUniform(5, 7_000);
    const one = new LatencyHistogram();
    const left = new LatencyHistogram();
    const right = new LatencyHistogram();
    for (const v of a) left.record(v);
    for (const v of b) right.record(v);
    for (const v of [...a, ...b]) one.record(v);
    left.merge(right);
    assert.equal(left.count, one.count);
    assert.equal(left.max, one.max);
    assert.equal(left.min, one.min);
    assertClose(left.mean, one.mean, 'mean');
    for (const p of PERCENTILES) assert.equal(left.percentile(p), one.percentile(p), `p${p}`);
  });

  it('clamps values past its range into the top bucket but keeps max exact', () => {
    const h = new LatencyHistogram();
    h.record(10);
    h.record(500_000);
    assert.equal(h.max, 500_000);
    assert.equal(h.percentile(100), 500_000);
    assertClose(h.percentile(50), 10, 'p50');
    const top = h.percentile(99);
    assert.ok(top > 100_000 && top <= 500_000, `p99 ${top}`);
  });

  it('reads 0 when empty, including after reset, and refuses negative and NaN values', () => {
    const h = new LatencyHistogram();
    h.record(5);
    h.reset();
    assert.deepEqual([h.count, h.max, h.min, h.mean, h.percentile(50)], [0, 0, 0, 0, 0]);
    h.record(2);
    assert.equal(h.percentile(50), 2);
    assert.throws(() => h.record(-0.001), RangeError);
    assert.throws(() => h.record(NaN), RangeError);
    assert.equal(h.count, 1);
  });
});
