import { BIGINT, TIMESTAMP, DuckDBTimestampValue, type DuckDBConnection } from '@duckdb/node-api';
import { COUNT_COLUMNS, COUNT_FIELDS } from '../aggregate/counts.js';
import { minuteOf } from '../aggregate/minute.js';
import { ARCHIVE_COLUMNS } from '../archive/archive-schema.js';
import { archiveScanSql, emptyArchiveSql, hasArchiveFiles, sqlString } from '../archive/archive-scan.js';
import type { MinuteRowsQuery } from '../store/aggregate-store.js';
import { appendColumns } from '../store/duckdb/column-appender.js';
import type { AnalyticsRange } from './analytics-range.js';
import { AnalyticsRefusal } from './analytics-refusal.js';

/** Whose rows a sandbox holds. An advertiser's ads come from the catalog, never from the request. */
export type AnalyticsScope =
  | { readonly kind: 'admin' }
  | { readonly kind: 'advertiser'; readonly advertiserId: number; readonly ads: readonly number[] };

/** Where the views' rows come from. */
export interface ViewSources {
  /** The serving store's minutes (AggregateStore.minuteRows, or the aggregation thread's call in serve). */
  readonly minuteRows: MinuteRowsQuery['minuteRows'];
  /** The ad's campaign and advertiser, from the catalog; undefined for an ad it does not know. */
  readonly adOwner: (ad: number) => { readonly campaign: number; readonly advertiser: number } | undefined;
  /** The archive's root directory (`--archive file:<path>`). */
  readonly archiveRoot: string;
}

const MINUTE_COLUMNS = [
  'ad',
  'campaign',
  'advertiser',
  'minute',
  ...COUNT_FIELDS.map((f) => COUNT_COLUMNS[f]),
];
const MINUTE_TYPES = [BIGINT, BIGINT, BIGINT, TIMESTAMP, ...COUNT_FIELDS.map(() => BIGINT)];

/** The columns of `events`: the archive's, then the Hive directories (hour as a number, not "05"). */
export const EVENT_SELECT = [
  ...ARCHIVE_COLUMNS.map(([column]) => `"${column}"`),
  'CAST(dt AS DATE) AS dt',
  'CAST(hour AS BIGINT) AS hour',
].join(', ');

const timestampLiteral = (ms: number): string =>
  `TIMESTAMP ${sqlString(new Date(ms).toISOString().replace('T', ' ').replace('Z', ''))}`;

/**
 * The archive rows of a range. The `dt` bounds let DuckDB skip whole day
 * directories (Hive partition pruning); `event_time` is the exact bound.
 */
export function rangeFilter(range: AnalyticsRange): string {
  const day = (ms: number): string => sqlString(new Date(ms).toISOString().slice(0, 10));
  return (
    `dt >= ${day(range.fromMs)} AND dt <= ${day(range.toMs)} AND ` +
    `event_time >= ${timestampLiteral(range.fromMs)} AND event_time < ${timestampLiteral(range.toMs)}`
  );
}

/** `ad IN (...)` of ids the catalog gave (integers, so safe to inline); `false` for none. */
export function adFilter(ads: readonly number[]): string {
  if (!ads.every((ad) => Number.isSafeInteger(ad))) throw new TypeError('ad ids must be integers');
  return ads.length === 0 ? 'false' : `ad IN (${ads.join(', ')})`;
}

/** The archive as a relation (an empty one while it holds no file: read_parquet fails on no match). */
export async function archiveRelation(root: string): Promise<string> {
  return (await hasArchiveFiles(root)) ? archiveScanSql(root) : emptyArchiveSql();
}

const whose = (scope: AnalyticsScope): string =>
  scope.kind === 'admin' ? 'all ads' : `advertiser ${scope.advertiserId}`;

function overBudget(view: string, scope: AnalyticsScope, budget: number): AnalyticsRefusal {
  return new AnalyticsRefusal(
    400,
    'materialise_budget',
    `${view}: the range holds more than ${budget} rows for ${whose(scope)} ` +
      `(the materialisation budget, --sql-materialise-rows); narrow from/to`,
  );
}

/**
 * Creates `minutes` and `events` in a fresh sandbox, before it is locked.
 *
 * `minutes` is always a table: the serving store is not reachable from the
 * sandbox, so its rows of the range are copied in (ad, campaign,
 * advertiser, minute, then each counter under its store column name).
 *
 * `events` for an advertiser is a table of its own ads' archive rows in the
 * range, copied while the sandbox may still read files; once locked, the
 * sandbox can read no file at all, so no statement can reach another
 * advertiser's rows. For the admin it is a view over the archive, which the
 * locked sandbox may read (allowed_directories = the archive root).
 */
export async function materialiseViews(
  connection: DuckDBConnection,
  sources: ViewSources,
  scope: AnalyticsScope,
  range: AnalyticsRange,
  budget: number,
): Promise<void> {
  const ads = scope.kind === 'admin' ? undefined : scope.ads;
  const rows = await sources.minuteRows(
    ads,
    minuteOf(range.fromMs),
    Math.ceil(range.toMs / 60_000),
    budget + 1,
  );
  if (rows.length > budget) throw overBudget('minutes', scope, budget);
  await connection.run(
    `CREATE TABLE minutes (${MINUTE_COLUMNS.map((c, i) => `"${c}" ${MINUTE_TYPES[i]!.toString()}`).join(', ')})`,
  );
  const appender = await connection.createAppender('minutes');
  try {
    appendColumns(appender, MINUTE_TYPES, rows.length, (v, row, i) => {
      const r = rows[i]!;
      const owner = sources.adOwner(r.ad);
      v[0]!.setItem(row, BigInt(r.ad));
      v[1]!.setItem(row, owner === undefined ? null : BigInt(owner.campaign));
      v[2]!.setItem(row, owner === undefined ? null : BigInt(owner.advertiser));
      v[3]!.setItem(row, new DuckDBTimestampValue(BigInt(r.minute) * 60_000_000n));
      for (let f = 0; f < COUNT_FIELDS.length; f++)
        v[4 + f]!.setItem(row, BigInt(r.counts[COUNT_FIELDS[f]!]));
    });
    appender.flushSync();
  } finally {
    appender.closeSync();
  }

  const archive = await archiveRelation(sources.archiveRoot);
  if (ads === undefined) {
    await connection.run(
      `CREATE VIEW events AS SELECT ${EVENT_SELECT} FROM ${archive} WHERE ${rangeFilter(range)}`,
    );
    return;
  }
  await connection.run(
    `CREATE TABLE events AS SELECT ${EVENT_SELECT} FROM ${archive}
     WHERE ${adFilter(ads)} AND ${rangeFilter(range)} LIMIT ${budget + 1}`,
  );
  const counted = await connection.runAndReadAll('SELECT count(*)::DOUBLE AS n FROM events');
  if (Number(counted.getRows()[0]![0]) > budget) throw overBudget('events', scope, budget);
}
