import { COUNT_FIELDS, emptyCounts } from '../../aggregate/counts.js';
import type { MinuteDelta } from '../aggregate-store.js';
import { COLUMNS } from './postgres-aggregate-schema.js';
import type { PostgresDatabase } from './postgres-database.js';

const RECORD = `concat_ws(',', ad, minute, ${COLUMNS.join(', ')})`;
const FIELDS = 2 + COLUMNS.length;

/**
 * The stored counts of every (ad, minute) from `fromMinute` on, of `ads`
 * (undefined: every ad), at most `limit` cells: what `adtally api`'s live
 * stream compares with its last read to find what the workers' commits
 * changed (src/cli/api-stream.ts). Packed into one string as the series
 * queries are (postgres-aggregate-store.ts says why). `truncated` when more
 * cells matched than `limit`.
 */
export async function readRecentMinutes(
  db: PostgresDatabase,
  ads: readonly number[] | undefined,
  fromMinute: number,
  limit: number,
): Promise<{ cells: MinuteDelta[]; truncated: boolean }> {
  const where = ads === undefined ? 'minute >= $1::int' : 'minute >= $1::int AND ad = ANY($3::int[])';
  const sql = `SELECT count(*)::int AS n, string_agg(${RECORD}, ',') AS packed
    FROM (SELECT * FROM agg_minute WHERE ${where} LIMIT $2::int) cells`;
  const values: unknown[] = ads === undefined ? [fromMinute, limit + 1] : [fromMinute, limit + 1, ads];
  const rows = await db.query<{ n: number; packed: string | null }>(sql, values);
  const row = rows[0];
  if (row === undefined || row.packed === null) return { cells: [], truncated: false };
  const parts = row.packed.split(',');
  const cells: MinuteDelta[] = [];
  for (let at = 0; at + FIELDS <= parts.length && cells.length < limit; at += FIELDS) {
    const counts = emptyCounts();
    COUNT_FIELDS.forEach((field, i) => (counts[field] = Number(parts[at + 2 + i])));
    cells.push({ ad: Number(parts[at]), minute: Number(parts[at + 1]), counts });
  }
  return { cells, truncated: row.n > limit };
}
