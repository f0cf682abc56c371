import { after, before } from 'node:test';
import { COUNT_COLUMNS, COUNT_FIELDS, emptyCounts } from '../../aggregate/counts.js';
import { aggregateStoreContract } from '../aggregate-store.contract.js';
import type { MinuteDelta } from '../aggregate-store.js';
import { createFreshDatabase, type FreshDatabase } from './fresh-test-database.js';
import { PostgresAggregateStore } from './postgres-aggregate-store.js';
import { PostgresDatabase } from './postgres-database.js';

let database: FreshDatabase;
before(async () => {
  database = await createFreshDatabase('store_contract');
});
after(async () => {
  await database.drop();
});

/** Every test starts from empty tables of this file's own database. */
aggregateStoreContract('PostgreSQL', async () => {
  const db = await PostgresDatabase.open(database.url);
  const store = await PostgresAggregateStore.create(db);
  await db.query('TRUNCATE agg_minute, agg_late, dedup_entries, consumer_checkpoints, consumer_owners');
  return {
    store,
    async lateCounts(): Promise<MinuteDelta[]> {
      const rows = await db.query<Record<string, number>>('SELECT * FROM agg_late ORDER BY ad, minute');
      return rows.map((row) => {
        const counts = emptyCounts();
        for (const f of COUNT_FIELDS) counts[f] = Number(row[COUNT_COLUMNS[f]]);
        return { ad: Number(row.ad), minute: Number(row.minute), counts };
      });
    },
    close: () => db.close(),
  };
});
