import { COUNT_COLUMNS, COUNT_FIELDS } from '../aggregate/counts.js';
import { minuteOf } from '../aggregate/minute.js';
import { DuckDbAggregateStore } from '../store/duckdb/duckdb-aggregate-store.js';
import { DuckDbCatalogStore } from '../store/duckdb/duckdb-catalog-store.js';
import { DuckDbDatabase } from '../store/duckdb/duckdb-database.js';

/**
 * Fills a fresh store file with `ads` ads (one advertiser, one campaign) and
 * `minutes` minutes of counts for every ad, ending at the current minute:
 * the data set of the `query` scenario (10,000 ads x 1,440 minutes).
 * Written with set-based SQL, in time order as the worker would write it.
 */
export async function seedStore(path: string, ads: number, minutes: number): Promise<{ lastMinute: number }> {
  const db = await DuckDbDatabase.open(path);
  try {
    const catalog = await DuckDbCatalogStore.create(db);
    await DuckDbAggregateStore.create(db);
    const advertiser = await catalog.createAdvertiser('bench', `bench-${Date.now()}`);
    const campaign = await catalog.createCampaign(advertiser.id, 'bench');
    await db.run(
      `INSERT INTO ads (campaign_id, advertiser_id, name, target_url)
       SELECT $1, $2, 'ad ' || i, 'https://bench.example/' || i FROM range($3) t(i)`,
      [campaign.id, advertiser.id, ads],
    );
    const lastMinute = minuteOf(Date.now());
    const counts = COUNT_FIELDS.map((f) =>
      f === 'impressions' ? '(a.id * 7 + m) % 50' : f === 'clicks' ? '(a.id + m) % 3' : '0',
    );
    await db.run(
      `INSERT INTO agg_minute (ad, "minute", ad_day, ${COUNT_FIELDS.map((f) => COUNT_COLUMNS[f]).join(', ')})
       SELECT a.id, m, a.id::BIGINT * 100000 + m // 1440, ${counts.join(', ')}
       FROM range($1, $2) t(m), ads a ORDER BY m, a.id`,
      [lastMinute - minutes + 1, lastMinute + 1],
    );
    return { lastMinute };
  } finally {
    await db.close();
  }
}
