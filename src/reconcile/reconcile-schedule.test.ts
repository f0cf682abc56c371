import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hoursDue } from './reconcile-schedule.js';

const H = (iso: string): number => Date.parse(iso) / 60_000;
const GRACE = 10 * 60_000;

describe('hoursDue', () => {
  it('takes the latest closed hour at the first tick, once closed plus the grace', () => {
    assert.deepEqual(hoursDue(Date.parse('2026-11-24T10:09:59Z'), GRACE, undefined, []), {
      hours: [H('2026-11-24T08:00Z')],
      closedUntilMinute: H('2026-11-24T09:00Z'),
    });
    assert.deepEqual(hoursDue(Date.parse('2026-11-24T10:10:00Z'), GRACE, undefined, []).hours, [
      H('2026-11-24T09:00Z'),
    ]);
  });

  it('takes each hour once, catches up after a pause (at most a day), and again where late events wait', () => {
    const done = H('2026-11-24T10:00Z');
    assert.deepEqual(hoursDue(Date.parse('2026-11-24T10:30Z'), GRACE, done, []).hours, []);
    assert.deepEqual(hoursDue(Date.parse('2026-11-24T13:15Z'), GRACE, done, []).hours, [
      H('2026-11-24T10:00Z'),
      H('2026-11-24T11:00Z'),
      H('2026-11-24T12:00Z'),
    ]);
    assert.equal(hoursDue(Date.parse('2026-11-28T13:15Z'), GRACE, done, []).hours.length, 24);
    assert.deepEqual(
      hoursDue(Date.parse('2026-11-24T10:30Z'), GRACE, done, [H('2026-11-23T04:00Z'), H('2026-11-24T10:00Z')])
        .hours,
      [H('2026-11-23T04:00Z')],
      'late events of an hour not closed plus the grace wait for it',
    );
  });
});
