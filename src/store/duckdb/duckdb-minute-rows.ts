import { BIGINT, INTEGER, LIST, listValue, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import { COUNT_COLUMNS, COUNT_FIELDS, emptyCounts } from '../../aggregate/counts.js';
import type { MinuteDelta } from '../aggregate-store.js';
import type { DuckDbDatabase } from './duckdb-database.js';

const COLUMNS = COUNT_FIELDS.map((f) => COUNT_COLUMNS[f]);

/**
 * AggregateStore.minuteRows on agg_minute: one filtered scan. Counters are
 * cast to DOUBLE so they come back as numbers, not bigints (exact below 2^53).
 */
export async function minuteRows(
  db: DuckDbDatabase,
  ads: readonly number[] | undefined,
  fromMinute: number,
  toMinute: number,
  limit: number,
): Promise<MinuteDelta[]> {
  if ((ads !== undefined && ads.length === 0) || toMinute <= fromMinute || limit <= 0) return [];
  const params: DuckDBValue[] = [BigInt(fromMinute), BigInt(toMinute), BigInt(limit)];
  const types: DuckDBType[] = [BIGINT, BIGINT, BIGINT];
  if (ads !== undefined) {
    params.push(listValue([...ads]));
    types.push(LIST(INTEGER));
  }
  const rows = await db.allTyped<Record<string, number>>(
    `SELECT ad, "minute"::DOUBLE AS "minute", ${COLUMNS.map((c) => `${c}::DOUBLE AS ${c}`).join(', ')}
     FROM agg_minute WHERE "minute" >= $1 AND "minute" < $2
     ${ads === undefined ? '' : 'AND ad IN (SELECT unnest($4::INTEGER[]))'}
     ORDER BY "minute", ad LIMIT $3`,
    params,
    types,
  );
  return rows.map((row) => {
    const counts = emptyCounts();
    for (const field of COUNT_FIELDS) counts[field] = row[COUNT_COLUMNS[field]]!;
    return { ad: row.ad!, minute: row.minute!, counts };
  });
}
