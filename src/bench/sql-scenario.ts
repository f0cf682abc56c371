import { join } from 'node:path';
import { COUNT_COLUMNS, COUNT_FIELDS } from '../aggregate/counts.js';
import { minuteOf } from '../aggregate/minute.js';
import { hashApiKey } from '../catalog/catalog.js';
import { LatencyHistogram } from '../loadgen/latency-histogram.js';
import { DuckDbAggregateStore } from '../store/duckdb/duckdb-aggregate-store.js';
import { DuckDbCatalogStore } from '../store/duckdb/duckdb-catalog-store.js';
import { DuckDbDatabase } from '../store/duckdb/duckdb-database.js';
import { freshDataDir, startAdtally } from './bench-servers.js';
import { sleep, type BenchContext } from './scenarios.js';

/** The advertiser of the `sql` scenario: its ads are the only ones its sandbox holds. */
const SQL_ADS = 100;
const SQL_CAMPAIGNS = 10;
const SQL_MINUTES = 1_440;
const API_KEY = 'atk_bench_sql_scenario_key_0123456789';

export interface SqlRun {
  readonly statements: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Minute rows each sandbox materialised (the advertiser's ads x the day). */
  readonly materialisedRows: number;
  /** Rows of each answer (one per minute). */
  readonly answerRows: number;
}

/** One advertiser, SQL_CAMPAIGNS campaigns of SQL_ADS / SQL_CAMPAIGNS ads, a day of minutes for each ad. */
async function seed(path: string): Promise<{ campaigns: number[]; lastMinute: number }> {
  const db = await DuckDbDatabase.open(path);
  try {
    const catalog = await DuckDbCatalogStore.create(db);
    await DuckDbAggregateStore.create(db);
    const advertiser = await catalog.createAdvertiser('bench-sql', hashApiKey(API_KEY));
    const campaigns = [];
    for (let c = 0; c < SQL_CAMPAIGNS; c++)
      campaigns.push(await catalog.createCampaign(advertiser.id, `c${c}`));
    for (let i = 0; i < SQL_ADS; i++) {
      await catalog.createAd(campaigns[i % SQL_CAMPAIGNS]!, `ad ${i}`, `https://bench.example/${i}`);
    }
    const lastMinute = minuteOf(Date.now());
    const counts = COUNT_FIELDS.map((f) =>
      f === 'impressions' ? '(a.id * 7 + m) % 50' : f === 'clicks' ? '(a.id + m) % 3' : '0',
    );
    await db.run(
      `INSERT INTO agg_minute (ad, "minute", ad_day, ${COUNT_FIELDS.map((f) => COUNT_COLUMNS[f]).join(', ')})
       SELECT a.id, m, a.id::BIGINT * 100000 + m // 1440, ${counts.join(', ')}
       FROM range($1, $2) t(m), ads a ORDER BY m, a.id`,
      [lastMinute - SQL_MINUTES + 1, lastMinute + 1],
    );
    return { campaigns: campaigns.map((c) => c.id), lastMinute };
  } finally {
    await db.close();
  }
}

/**
 * `sql`: POST /api/v1/sql with an advertiser's key, a day's minutes of one
 * of its campaigns (1,440 rows), one statement after another. Each
 * statement builds its sandbox: the advertiser's minutes of the day (100
 * ads x 1,440) come from the store through the aggregation thread and are
 * appended into a fresh DuckDB instance, then the query runs; that copy is
 * most of the time measured.
 */
export async function sqlLatency(ctx: BenchContext): Promise<SqlRun[]> {
  const dir = await freshDataDir();
  const { campaigns, lastMinute } = await seed(join(dir, 'adtally.duckdb'));
  const from = new Date((lastMinute + 1 - SQL_MINUTES) * 60_000).toISOString();
  const to = new Date((lastMinute + 1) * 60_000).toISOString();
  const statements = ctx.plan.runs === 1 ? 30 : 100;
  const runs: SqlRun[] = [];
  const adtally = await startAdtally(dir);
  try {
    for (let run = 1; run <= ctx.plan.runs; run++) {
      const histogram = new LatencyHistogram();
      let answerRows = 0;
      for (let i = 0; i < statements + 3; i++) {
        const campaign = campaigns[i % campaigns.length]!;
        const started = performance.now();
        const res = await fetch(`${adtally.url}/api/v1/sql`, {
          method: 'POST',
          headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            sql: `SELECT minute, sum(impressions) AS impressions, sum(clicks) AS clicks FROM minutes
                  WHERE campaign = ${campaign} GROUP BY minute ORDER BY minute`,
            from,
            to,
          }),
        });
        const body = (await res.json()) as { rows?: unknown[]; error?: unknown };
        if (res.status !== 200) throw new Error(`sql answered ${res.status}: ${JSON.stringify(body.error)}`);
        // The first few warm the process (DuckDB's code, the thread's read connection).
        if (i >= 3) histogram.record(performance.now() - started);
        answerRows = body.rows!.length;
      }
      const figures = {
        statements: histogram.count,
        p50: histogram.percentile(50),
        p99: histogram.percentile(99),
        max: histogram.max,
        materialisedRows: SQL_ADS * SQL_MINUTES,
        answerRows,
      };
      ctx.progress(
        `sql run ${run}: p50 ${figures.p50.toFixed(1)} ms, p99 ${figures.p99.toFixed(1)} ms ` +
          `(${figures.materialisedRows} minute rows a sandbox, ${answerRows} answer rows)`,
      );
      runs.push(figures);
      await sleep(ctx.plan.settleMs);
    }
  } finally {
    await adtally.dispose();
  }
  return runs;
}
