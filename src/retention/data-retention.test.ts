import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDurationMs } from '../domain/duration.js';
import { DEFAULT_RETENTION, parseRetention, retentionCutoffs, startDataRetention } from './data-retention.js';

const DAY = 86_400_000;

describe('parseRetention', () => {
  const cases: [string, unknown][] = [
    ['30d', { rawMs: 30 * DAY, aggregatesMs: 30 * DAY }],
    ['raw=7d', { rawMs: 7 * DAY, aggregatesMs: DEFAULT_RETENTION.aggregatesMs }],
    ['aggregates=2d, raw=1d', { rawMs: DAY, aggregatesMs: 2 * DAY }],
    ['raw=7d,raw=8d', { error: 'raw is given twice' }],
    ['raw=soon', { error: 'raw: "soon" is not a duration such as 90d' }],
    ['logs=7d', { error: '"logs=7d": expected raw=<duration> or aggregates=<duration>' }],
    ['forever', { error: '"forever" is not a duration such as 90d (or raw=90d,aggregates=400d)' }],
    ['0s', { error: '"0s" is not a duration such as 90d (or raw=90d,aggregates=400d)' }],
  ];
  for (const [raw, expected] of cases) {
    it(`reads "${raw}"`, () => assert.deepEqual(parseRetention(raw, parseDurationMs), expected));
  }
});

describe('retention passes', () => {
  it('deletes whole archive hours and minutes past their ages', () => {
    const now = Date.parse('2026-12-02T10:30:00Z');
    const { archiveHourMs, minute } = retentionCutoffs({ rawMs: DAY, aggregatesMs: 2 * DAY }, now);
    assert.equal(new Date(archiveHourMs).toISOString(), '2026-12-01T10:00:00.000Z');
    assert.equal(new Date(minute * 60_000).toISOString(), '2026-11-30T10:30:00.000Z');
  });

  it('asks both deletions at each pass, reports them, and goes on after a failure', async () => {
    const now = Date.parse('2026-12-02T10:30:00Z');
    const asked: string[] = [];
    const reported: unknown[] = [];
    const warnings: string[] = [];
    let failArchive = true;
    const stop = startDataRetention({
      ages: { rawMs: DAY, aggregatesMs: 2 * DAY },
      now: () => now,
      intervalMs: 5,
      deleteArchiveHoursBefore: (hour) => {
        asked.push(`archive<${new Date(hour).toISOString()}`);
        if (failArchive) {
          failArchive = false;
          return Promise.reject(new Error('disk went away'));
        }
        return Promise.resolve({ hours: 1, files: 2, bytes: 300 });
      },
      deleteMinutesBefore: (minute) => {
        asked.push(`minutes<${minute}`);
        return Promise.resolve({ rows: 7 });
      },
      observer: {
        onArchiveDeleted: (d) => reported.push(d),
        onAggregatesDeleted: (d) => reported.push(d),
      },
      warn: (line) => warnings.push(line),
    });
    while (asked.length < 4) await new Promise((resolve) => setTimeout(resolve, 5));
    await stop();
    assert.deepEqual(asked.slice(0, 4), [
      'archive<2026-12-01T10:00:00.000Z',
      `minutes<${Math.floor((now - 2 * DAY) / 60_000)}`,
      'archive<2026-12-01T10:00:00.000Z',
      `minutes<${Math.floor((now - 2 * DAY) / 60_000)}`,
    ]);
    assert.deepEqual(reported.slice(0, 3), [{ rows: 7 }, { hours: 1, files: 2, bytes: 300 }, { rows: 7 }]);
    assert.match(warnings[0]!, /archive retention failed, retrying in 5 ms: disk went away/);
  });
});
