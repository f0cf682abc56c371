import { BOOLEAN, INTEGER } from '@duckdb/node-api';
import { COUNT_COLUMNS, COUNT_FIELDS, emptyCounts, type BucketCounts } from '../../aggregate/counts.js';
import type { MinuteDelta } from '../aggregate-store.js';
import { appendColumns } from './column-appender.js';
import type { Transaction } from './duckdb-database.js';

/** The (ad, minute) rows of agg_minute and agg_late, and the TEMP staging table every write goes through. */
export const MINUTES_PER_DAY = 1440;
export const COLUMNS = COUNT_FIELDS.map((f) => COUNT_COLUMNS[f]);

export function countsOf(row: Record<string, number | bigint>): BucketCounts {
  const counts = emptyCounts();
  for (const field of COUNT_FIELDS) counts[field] = Number(row[COUNT_COLUMNS[field]]);
  return counts;
}

/** The columns of stage_minute: late, ad, minute, then the counters in COUNT_FIELDS order. */
const STAGE_TYPES = [BOOLEAN, INTEGER, INTEGER, ...COUNT_FIELDS.map(() => INTEGER)];

/** Appends deltas to the TEMP staging table, each group flagged late or not. */
export function stage(
  tx: Transaction,
  groups: readonly (readonly [boolean, readonly MinuteDelta[]])[],
): Promise<void> {
  const rows = groups.flatMap(([late, deltas]) => deltas.map((delta) => [late, delta] as const));
  return tx.append(
    'stage_minute',
    (appender) =>
      appendColumns(appender, STAGE_TYPES, rows.length, (v, row, i) => {
        const [late, d] = rows[i]!;
        v[0]!.setItem(row, late);
        v[1]!.setItem(row, d.ad);
        v[2]!.setItem(row, d.minute);
        for (let f = 0; f < COUNT_FIELDS.length; f++) v[3 + f]!.setItem(row, d.counts[COUNT_FIELDS[f]!]);
      }),
    true,
  );
}

/** Adds the staged rows of one kind (serving or late) into `table`, or writes them over its counts. */
export function mergeStaged(table: string, late: boolean, mode: 'add' | 'replace'): string {
  const dayColumn = table === 'agg_minute' ? ', ad_day' : '';
  const dayValue = table === 'agg_minute' ? `, ad::BIGINT * 100000 + "minute" // ${MINUTES_PER_DAY}` : '';
  const update = COLUMNS.map((c) =>
    mode === 'add' ? `${c} = ${table}.${c} + excluded.${c}` : `${c} = excluded.${c}`,
  ).join(', ');
  return `INSERT INTO ${table} (ad, "minute"${dayColumn}, ${COLUMNS.join(', ')})
    SELECT ad, "minute"${dayValue}, ${COLUMNS.join(', ')} FROM stage_minute WHERE late = ${late}
    ON CONFLICT (ad, "minute") DO UPDATE SET ${update}`;
}
