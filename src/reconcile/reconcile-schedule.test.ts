import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReconcileRunner } from './reconcile-runner.js';
import { hoursDue, ReconcileSchedule } from './reconcile-schedule.js';

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

describe('ReconcileSchedule', () => {
  const report = (from: number) => ({
    report: {
      from: new Date(from * 60_000).toISOString(),
      repaired: 0,
      lateEventsFolded: 0,
      minutesChecked: 0,
    },
  });

  it('runs each due hour once, retries a failed pass at the next tick (logged once), and only while active', async () => {
    let now = Date.parse('2026-11-24T10:15Z');
    const ran: string[] = [];
    let failing = true;
    let active = false;
    const lines: string[] = [];
    const schedule = new ReconcileSchedule({
      runner: {
        run: (from: number) => {
          ran.push(new Date(from * 60_000).toISOString().slice(11, 16));
          if (failing) return Promise.reject(new Error('the archive is behind'));
          return Promise.resolve(report(from) as unknown as Awaited<ReturnType<ReconcileRunner['run']>>);
        },
      },
      store: { lateHours: () => Promise.resolve([H('2026-11-24T03:00Z')]) },
      graceMs: GRACE,
      active: () => active,
      log: (line) => lines.push(line),
      now: () => now,
    });
    await schedule.tick();
    assert.deepEqual(ran, [], 'inactive: nothing');
    active = true;
    await schedule.tick();
    await schedule.tick();
    assert.deepEqual(ran, ['03:00', '03:00'], 'a failed pass stops at its first hour and is tried again');
    assert.equal(lines.length, 1, lines.join('\n'));
    failing = false;
    ran.length = 0;
    await schedule.tick();
    assert.deepEqual(ran, ['03:00', '09:00']);
    ran.length = 0;
    now = Date.parse('2026-11-24T11:10Z');
    await schedule.tick();
    assert.deepEqual(
      ran,
      ['03:00', '10:00'],
      'the next hour once, and the hour where late events still wait',
    );
  });
});
