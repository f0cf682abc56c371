import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COUNT_COLUMNS, COUNT_FIELDS, emptyCounts } from '../../aggregate/counts.js';
import { aggregateStoreContract } from '../aggregate-store.contract.js';
import type { MinuteDelta } from '../aggregate-store.js';
import { DuckDbAggregateStore } from './duckdb-aggregate-store.js';
import { DuckDbDatabase } from './duckdb-database.js';

aggregateStoreContract('DuckDB', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'adtally-store-contract-'));
  const db = await DuckDbDatabase.open(join(dir, 'store.duckdb'));
  const store = await DuckDbAggregateStore.create(db);
  return {
    store,
    async lateCounts(): Promise<MinuteDelta[]> {
      const rows = await db.all<Record<string, number | bigint>>(
        'SELECT * FROM agg_late ORDER BY ad, "minute"',
      );
      return rows.map((row) => {
        const counts = emptyCounts();
        for (const f of COUNT_FIELDS) counts[f] = Number(row[COUNT_COLUMNS[f]]);
        return { ad: Number(row.ad), minute: Number(row.minute), counts };
      });
    },
    async close() {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
