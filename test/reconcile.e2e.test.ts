import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { emptyCounts } from '../src/aggregate/counts.js';
import type { ReconcileReport } from '../src/reconcile/reconcile.js';
import { DuckDbAggregateStore } from '../src/store/duckdb/duckdb-aggregate-store.js';
import { DuckDbDatabase } from '../src/store/duckdb/duckdb-database.js';
import {
  AdtallyProcess,
  TEST_ADMIN_TOKEN,
  adminApi,
  makeDataDir,
  removeDir,
  runCli,
} from './support/adtally-process.js';
import {
  MINUTE_MS,
  Oracle,
  Traffic,
  apiGet,
  countsOfBucket,
  isoMinute,
  metricValue,
  minuteOf,
  pollUntil,
  zeroCounts,
  type Counts,
  type SeriesAnswer,
} from './support/traffic.js';

/**
 * SPEC 4.5 through the real process: late events of final minutes appear in
 * the answers once reconciled (POST /api/v1/reconcile), drift injected into
 * the store of a stopped serve is repaired by `adtally reconcile` on its data
 * dir exactly where it was injected, and against a running serve the command
 * asks that process.
 */
describe('reconciliation (SPEC 4.5, --allowed-lateness 1s)', () => {
  let server: AdtallyProcess;
  let dataDir: string;
  let adA: number;
  let adB: number;
  let traffic: Traffic;
  /** The minute the events fall in, and what it must count once reconciled. */
  let m: number;
  let expectedA: Counts;
  let apiKey: string;

  before(async () => {
    dataDir = makeDataDir();
    server = await AdtallyProcess.start(dataDir, { args: ['--allowed-lateness', '1s'] });
    const seeded = await adminApi(server.url).seed(2, 'Recon');
    [adA, adB] = seeded.adIds as [number, number];
    apiKey = seeded.apiKey;
    traffic = new Traffic(server.url, new Oracle(), new Set([adA, adB]));
  });
  after(async () => {
    await server.stop();
    removeDir(dataDir);
  });

  const series = async (ad: number) =>
    (
      await apiGet<SeriesAnswer>(
        server.url,
        `/api/v1/ads/${ad}/aggregates?from=${isoMinute(m)}&to=${isoMinute(m + 1)}`,
      )
    ).body;
  const reconcile = async (): Promise<{ status: number; report: ReconcileReport }> => {
    const res = await fetch(`${server.url}/api/v1/reconcile`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ from: isoMinute(m), to: isoMinute(m + 1) }),
    });
    const body = (await res.json()) as { report: ReconcileReport };
    return { status: res.status, report: body.report };
  };

  it('folds the late events of a final minute into the answers; a second run changes nothing', async () => {
    m = minuteOf(Date.now()) - 2;
    const at = m * MINUTE_MS + 30_000;
    await traffic.batch([
      { type: 'impression', ad: adA, imp: 'recon_imp_0', at },
      { type: 'impression', ad: adA, imp: 'recon_imp_1', at },
      { type: 'click', ad: adA, imp: 'recon_imp_0', at },
    ]);
    // A click now moves the watermark past M: M is final.
    await traffic.click(adB, `recon_now_${Date.now()}`);
    const final = await pollUntil(
      async () => {
        const answer = await series(adA);
        return { done: answer.series[0]!.final, value: answer };
      },
      5_000,
      20,
    );
    assert.equal(final.done, true, 'minute M became final');
    // Late for M: kept apart, counted in no answer, said in `late`.
    await traffic.batch([
      { type: 'click', ad: adA, imp: 'recon_imp_1', at: at + 5_000 },
      { type: 'impression', ad: adA, imp: 'recon_imp_2', at: at + 5_000 },
      { type: 'click', ad: adA, imp: 'recon_imp_0', at: at + 6_000 },
    ]);
    const waiting = await pollUntil(
      async () => {
        const answer = await series(adA);
        return { done: answer.totals.late === 3, value: answer };
      },
      5_000,
      20,
    );
    assert.equal(waiting.done, true, `three late events wait: ${JSON.stringify(waiting.value.totals)}`);
    const before = { ...zeroCounts(), impressions: 2, clicks: 1 };
    assert.deepEqual(countsOfBucket(waiting.value.series[0]!), before);

    const first = await reconcile();
    assert.equal(first.status, 200);
    assert.equal(first.report.lateEventsFolded, 3);
    assert.deepEqual(first.report.repairedMinutes, [{ ad: adA, minute: isoMinute(m) }]);
    expectedA = { ...zeroCounts(), impressions: 3, clicks: 2, 'click.duplicate': 1 };
    const after = await series(adA);
    assert.deepEqual(countsOfBucket(after.series[0]!), expectedA, 'the late events are in the answer');
    assert.equal(after.totals.late, 0);
    assert.ok((await metricValue(server.url, 'adtally_reconcile_late_events_folded_total')) >= 3);

    const second = await reconcile();
    assert.equal(second.report.repaired, 0);
    assert.equal(second.report.lateEventsFolded, 0);
    assert.deepEqual(countsOfBucket((await series(adA)).series[0]!), expectedA);
  });

  it('repairs drift injected into a stopped serve with adtally reconcile on its data dir, exactly there', async () => {
    const expectedB = countsOfBucket((await series(adB)).series[0]!);
    assert.equal((await server.stop()).code, 0);
    // Drift: ad A's minute changed, ad B's minute given counts no event made.
    const db = await DuckDbDatabase.open(join(dataDir, 'adtally.duckdb'));
    const store = await DuckDbAggregateStore.create(db);
    await store.replaceCounts([
      { ad: adA, minute: m, counts: { ...emptyCounts(), impressions: 8, clicks: 2, clickDuplicate: 1 } },
      { ad: adB, minute: m, counts: { ...emptyCounts(), clicks: 3 } },
    ]);
    await db.close();

    const range = ['--from', isoMinute(m), '--to', isoMinute(m + 1)];
    const local = await runCli(['reconcile', '--data-dir', dataDir, ...range]);
    assert.equal(local.code, 0, local.stderr);
    assert.match(local.stdout, /repaired {12}2\b/);
    const reports = readdirSync(join(dataDir, 'reconcile'))
      .filter((f) => f.endsWith('.json'))
      .sort();
    const report = JSON.parse(
      readFileSync(join(dataDir, 'reconcile', reports.at(-1)!), 'utf8'),
    ) as ReconcileReport;
    assert.deepEqual(
      report.repairedMinutes,
      [adA, adB].sort((x, y) => x - y).map((ad) => ({ ad, minute: isoMinute(m) })),
    );

    server = await AdtallyProcess.start(dataDir, { args: ['--allowed-lateness', '1s'] });
    assert.deepEqual(countsOfBucket((await series(adA)).series[0]!), expectedA);
    assert.deepEqual(countsOfBucket((await series(adB)).series[0]!), expectedB);

    // The serve holds the store now: the command asks it, and nothing is left to repair.
    const remote = await runCli(['reconcile', '--data-dir', dataDir, '--url', server.url, ...range], {
      ADTALLY_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    });
    assert.equal(remote.code, 0, remote.stderr);
    assert.match(remote.stdout, /repaired {12}0\b/);
  });

  it("refuses an advertiser's key with 403, a bad range with 400, and exits 2 on a bad flag", async () => {
    const byKey = await fetch(`${server.url}/api/v1/reconcile`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}` },
    });
    assert.equal(byKey.status, 403);
    const res = await fetch(`${server.url}/api/v1/reconcile`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      body: JSON.stringify({ from: isoMinute(m + 1), to: isoMinute(m) }),
    });
    assert.equal(res.status, 400);
    assert.match(
      ((await res.json()) as { error: { message: string } }).error.message,
      /from must be before to/,
    );
    assert.equal((await runCli(['reconcile', '--data-dir', dataDir, '--frm', 'x'])).code, 2);
  });
});
