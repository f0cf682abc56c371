import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { emptyCounts } from '../aggregate/counts.js';
import { buildSeries, parseSeriesRange, rangeBounds } from './series.js';

const NOW = Date.parse('2026-11-23T10:15:30Z');
const q = (params: Record<string, string>): URLSearchParams => new URLSearchParams(params);
/** The refusal reason, or a marker when the range was accepted. */
const reasonOf = (params: Record<string, string>): string => {
  const range = parseSeriesRange(q(params), NOW);
  return typeof range === 'string' ? range : 'accepted';
};

describe('parseSeriesRange', () => {
  it('defaults to the last hour by minute, widened to whole minutes', () => {
    const range = parseSeriesRange(q({}), NOW);
    assert.ok(typeof range !== 'string');
    assert.deepEqual(rangeBounds(range), {
      from: '2026-11-23T09:15:00.000Z',
      to: '2026-11-23T10:16:00.000Z',
    });
    assert.equal(range.granularity, 'minute');
  });

  it('aligns from down and to up to the granularity', () => {
    const range = parseSeriesRange(
      q({ from: '2026-11-23T09:30:00Z', to: '2026-11-23T11:10:00+01:00', granularity: 'hour' }),
      NOW,
    );
    assert.ok(typeof range !== 'string');
    assert.deepEqual(rangeBounds(range), {
      from: '2026-11-23T09:00:00.000Z',
      to: '2026-11-23T11:00:00.000Z',
    });
  });

  it('allows 10,080 buckets and refuses one more', () => {
    const from = '2026-11-16T10:00:00Z';
    assert.equal(reasonOf({ from, to: '2026-11-23T10:00:00Z' }), 'accepted');
    assert.match(reasonOf({ from, to: '2026-11-23T10:01:00Z' }), /10081 minute buckets/);
  });

  for (const [name, params, reason] of [
    ['a bad granularity', { granularity: 'week' }, /granularity/],
    ['a date without time', { from: '2026-11-23' }, /ISO 8601/],
    ['an impossible date', { from: '2026-13-45T00:00:00Z' }, /not a valid date/],
    ['from after to', { from: '2026-11-23T10:00:00Z', to: '2026-11-23T09:00:00Z' }, /before/],
  ] as const) {
    it(`refuses ${name}`, () => assert.match(reasonOf(params), reason));
  }
});

describe('buildSeries', () => {
  it('fills every bucket, sums totals and marks final once the watermark reaches a bucket end', () => {
    const range = { granularity: 'minute', fromMinute: 100, toMinute: 103 } as const;
    const counts = { ...emptyCounts(), impressions: 4, clicks: 1, clickBot: 2 };
    const { series, totals } = buildSeries(range, [{ minute: 101, counts }], 102 * 60_000, 3);
    assert.deepEqual(
      series.map((b) => [b.impressions, b.clicks, b.invalid.bot, b.final]),
      [
        [0, 0, 0, true],
        [4, 1, 2, true],
        [0, 0, 0, false],
      ],
    );
    assert.equal(series[1]!.ctr, 0.25);
    assert.deepEqual(totals, { impressions: 4, clicks: 1, ctr: 0.25, late: 3 });
  });

  it('marks nothing final before the first event', () => {
    const { series } = buildSeries({ granularity: 'hour', fromMinute: 0, toMinute: 120 }, [], undefined);
    assert.deepEqual(
      series.map((b) => b.final),
      [false, false],
    );
  });
});
