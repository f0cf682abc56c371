import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { emptyCounts } from '../aggregate/counts.js';
import { packDeltas } from '../aggregate/thread/protocol.js';
import type { MinuteDelta } from '../store/aggregate-store.js';
import { writeArchiveFixture } from '../../test/support/archive-fixture.js';
import { AnalyticsRefusal } from './analytics-refusal.js';
import type { ViewSources } from './sandbox-views.js';
import { TextAnswer } from './sql-answer.js';
import { DEFAULT_SQL_LIMITS, type SqlLimits } from './sql-limits.js';
import { SqlSandbox } from './sql-sandbox.js';

const dir = mkdtempSync(join(tmpdir(), 'adtally-sandbox-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const HOUR = Date.UTC(2026, 10, 24, 5);
const range = { fromMs: HOUR, toMs: HOUR + 3_600_000 };
const MINUTE = HOUR / 60_000;

/** Minutes of ads 1 (advertiser 10) and 2 (advertiser 20), `n` each. */
function minutes(n: number): MinuteDelta[] {
  const rows: MinuteDelta[] = [];
  for (let i = 0; i < n; i++) {
    for (const ad of [1, 2])
      rows.push({ ad, minute: MINUTE + i, counts: { ...emptyCounts(), impressions: ad } });
  }
  return rows;
}

/** A store port over fixed rows, filtering as the adapters do (their contract suite checks them). */
function sourcesOver(rows: MinuteDelta[], archiveRoot: string): ViewSources {
  return {
    minuteRows: (ads, from, to, limit) =>
      Promise.resolve(
        packDeltas(
          rows
            .filter((r) => (ads === undefined || ads.includes(r.ad)) && r.minute >= from && r.minute < to)
            .slice(0, limit),
        ),
      ),
    adOwner: (ad) => ({ campaign: ad * 100, advertiser: ad * 10 }),
    archiveRoot,
  };
}

const limits = (more: Partial<SqlLimits>): SqlLimits => ({ ...DEFAULT_SQL_LIMITS, ...more });
const advertiser = { kind: 'advertiser', advertiserId: 10, ads: [1] } as const;

async function run(
  sandbox: SqlSandbox,
  scope: Parameters<SqlSandbox['run']>[0],
  sql: string,
): Promise<unknown> {
  const answer = new TextAnswer('json');
  const result = await sandbox.run(scope, sql, range, answer.sink);
  return (JSON.parse(answer.body(result).toString()) as { rows: unknown }).rows;
}

async function refusal(promise: Promise<unknown>): Promise<AnalyticsRefusal> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AnalyticsRefusal) return err;
    throw err;
  }
  assert.fail('expected a refusal');
}

describe('SqlSandbox', () => {
  const archive = join(dir, 'archive');
  const events = Array.from({ length: 30 }, (_, i) => ({
    offset: i,
    type: 'impression' as const,
    outcome: 'ok',
    eventTime: HOUR + i * 1000,
    ad: 1 + (i % 2),
    campaign: (1 + (i % 2)) * 100,
    advertiser: (1 + (i % 2)) * 10,
    imp: `imp-${i}-abcdefgh`,
    userAgent: 'browser',
    origin: null,
  }));

  it('fills minutes from the store port with the catalog columns, and events from the archive', async () => {
    await writeArchiveFixture(archive, events);
    const sandbox = new SqlSandbox(sourcesOver(minutes(3), archive), limits({}));
    assert.deepEqual(
      await run(
        sandbox,
        advertiser,
        'SELECT ad, campaign, advertiser, count(*), sum(impressions) FROM minutes GROUP BY ALL',
      ),
      [[1, 100, 10, 3, 3]],
    );
    assert.deepEqual(await run(sandbox, advertiser, 'SELECT count(*), min(minute) FROM minutes'), [
      [3, new Date(HOUR).toISOString()],
    ]);
    assert.deepEqual(await run(sandbox, advertiser, 'SELECT count(*), max(ad), min(hour) FROM events'), [
      [15, 1, 5],
    ]);
    assert.deepEqual(await run(sandbox, { kind: 'admin' }, 'SELECT count(*) FROM events'), [[30]]);
  });

  it('refuses a range whose rows exceed the materialisation budget, naming whose rows and the flag', async () => {
    const sandbox = new SqlSandbox(sourcesOver(minutes(20), archive), limits({ materialiseRows: 10 }));
    const tooManyMinutes = await refusal(run(sandbox, advertiser, 'SELECT 1'));
    assert.equal(tooManyMinutes.status, 400);
    assert.match(
      tooManyMinutes.message,
      /^minutes: the range holds more than 10 rows for advertiser 10 .*--sql-materialise-rows/,
    );
    const admin = await refusal(run(sandbox, { kind: 'admin' }, 'SELECT 1'));
    assert.match(admin.message, /more than 10 rows for all ads/);
    const fewMinutes = new SqlSandbox(sourcesOver(minutes(2), archive), limits({ materialiseRows: 10 }));
    const tooManyEvents = await refusal(run(fewMinutes, advertiser, 'SELECT 1'));
    assert.match(tooManyEvents.message, /^events: the range holds more than 10 rows for advertiser 10/);
  });

  it('runs at most `concurrency` statements at once: the next is refused 503 at once', async () => {
    const sandbox = new SqlSandbox(
      sourcesOver(minutes(1), archive),
      limits({ concurrency: 1, timeoutMs: 1500 }),
    );
    const slow = run(
      sandbox,
      { kind: 'admin' },
      'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r',
    );
    const busy = await refusal(run(sandbox, { kind: 'admin' }, 'SELECT 1'));
    assert.equal(busy.status, 503);
    assert.match(busy.message, /--sql-concurrency/);
    assert.equal((await refusal(slow)).status, 408);
    // The slot is back once the interrupted statement stopped.
    assert.deepEqual(await run(sandbox, { kind: 'admin' }, 'SELECT 1'), [[1]]);
  });

  it("refuses a statement past the memory limit with DuckDB's reason", async () => {
    const sandbox = new SqlSandbox(sourcesOver([], archive), limits({ memoryMb: 32 }));
    const err = await refusal(run(sandbox, { kind: 'admin' }, 'SELECT list(i) FROM range(50000000) t(i)'));
    assert.equal(err.status, 400);
    assert.match(err.message, /Out of Memory Error/);
  });
});
