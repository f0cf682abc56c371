import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { PlainHistogram } from './plain-histogram.js';

const BOUNDS = [0.001, 0.01, 0.1, 1];

/** The text prom-client prints for `registry`, with one metric name renamed so two can be compared. */
async function text(registry: Registry, from: string, to: string): Promise<string> {
  return (await registry.metrics()).replaceAll(from, to);
}

describe('PlainHistogram', () => {
  it('prints what a prom-client Histogram prints for the same observations', async () => {
    const values = [0, 0.0005, 0.001, 0.002, 0.05, 0.1, 0.5, 1, 7, 0.01];
    const theirs = new Registry();
    const reference = new Histogram({
      name: 'ref_seconds',
      help: 'h',
      labelNames: ['route'],
      buckets: BOUNDS,
      registers: [theirs],
    });
    const ours = new Registry();
    const plain = new PlainHistogram('plain_seconds', 'h', BOUNDS, ours, 'route');
    for (const [i, value] of values.entries()) {
      const route = i % 3 === 0 ? 'click' : 'ad';
      reference.labels(route).observe(value);
      plain.child(route).observe(value);
    }
    assert.equal(await text(ours, 'plain_seconds', 'x'), await text(theirs, 'ref_seconds', 'x'));
  });

  it('prints an unlabelled series like prom-client, and nothing before the first observation', async () => {
    const theirs = new Registry();
    const reference = new Histogram({ name: 'ref_seconds', help: 'h', buckets: BOUNDS, registers: [theirs] });
    const ours = new Registry();
    const plain = new PlainHistogram('plain_seconds', 'h', BOUNDS, ours);
    assert.doesNotMatch(await ours.metrics(), /plain_seconds_count/);
    const series = plain.child();
    for (const value of [0.003, 0.3, 3]) {
      reference.observe(value);
      series.observe(value);
    }
    assert.equal(await text(ours, 'plain_seconds', 'x'), await text(theirs, 'ref_seconds', 'x'));
  });
});
