import { DOUBLE, type DuckDBConnection } from '@duckdb/node-api';
import { COUNT_COLUMNS, COUNT_FIELDS } from '../aggregate/counts.js';
import { minuteOf } from '../aggregate/minute.js';
import { PACKED_STRIDE } from '../aggregate/thread/protocol.js';
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
  /**
   * The serving store's minutes (AggregateStore.minuteRows) packed as
   * packDeltas packs them: in serve they come so from the aggregation thread.
   */
  readonly minuteRows: (...args: Parameters<MinuteRowsQuery['minuteRows']>) => Promise<Float64Array>;
  /** The ad's campaign and advertiser, from the catalog; undefined for an ad it does not know. */
  readonly adOwner: (ad: number) => { readonly campaign: number; readonly advertiser: number } | undefined;
  /** The archive's root directory (`--archive file:<path>`). */
  readonly archiveRoot: string;
}

const COUNTERS = COUNT_FIELDS.map((f) => COUNT_COLUMNS[f]);
/** Rows appended between two yields to the event loop (a few ms of work). */
const APPEND_SLICE_ROWS = 4096;
/** Staged as numbers as they come (no BigInt per value), then typed by one CREATE TABLE AS. */
const STAGE_DDL = `CREATE TEMP TABLE stage_minutes (ad DOUBLE, campaign DOUBLE, advertiser DOUBLE, "minute" DOUBLE, ${COUNTERS.map((c) => `${c} DOUBLE`).join(', ')})`;
const STAGE_TYPES = [DOUBLE, DOUBLE, DOUBLE, DOUBLE, ...COUNT_FIELDS.map(() => DOUBLE)];
const MINUTES_TABLE = `CREATE TABLE minutes AS SELECT ad::BIGINT AS ad, campaign::BIGINT AS campaign,
  advertiser::BIGINT AS advertiser, epoch_ms(("minute" * 60000)::BIGINT) AS "minute",
  ${COUNTERS.map((c) => `${c}::BIGINT AS ${c}`).join(', ')} FROM stage_minutes`;

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
  const packed = await sources.minuteRows(
    ads,
    minuteOf(range.fromMs),
    Math.ceil(range.toMs / 60_000),
    budget + 1,
  );
  const count = packed.length / PACKED_STRIDE;
  if (count > budget) throw overBudget('minutes', scope, budget);
  await connection.run(STAGE_DDL);
  const appender = await connection.createAppender('stage_minutes', 'main', 'temp');
  const owners = new Map<number, ReturnType<ViewSources['adOwner']>>();
  const ownerOf = (ad: number): ReturnType<ViewSources['adOwner']> => {
    if (!owners.has(ad)) owners.set(ad, sources.adOwner(ad));
    return owners.get(ad);
  };
  try {
    // Slice by slice, yielding between them: in serve this runs on the request thread, and a
    // day of 100 ads (144,000 rows) is ~200 ms of appending that clicks must not wait behind.
    for (let first = 0; first < count; first += APPEND_SLICE_ROWS) {
      if (first > 0) await new Promise((resolve) => setImmediate(resolve));
      const rows = Math.min(APPEND_SLICE_ROWS, count - first);
      appendColumns(appender, STAGE_TYPES, rows, (v, row, index) => {
        const at = (first + index) * PACKED_STRIDE;
        const ad = packed[at]!;
        const owner = ownerOf(ad);
        v[0]!.setItem(row, ad);
        v[1]!.setItem(row, owner === undefined ? null : owner.campaign);
        v[2]!.setItem(row, owner === undefined ? null : owner.advertiser);
        v[3]!.setItem(row, packed[at + 1]!);
        for (let f = 0; f < COUNT_FIELDS.length; f++) v[4 + f]!.setItem(row, packed[at + 2 + f]!);
      });
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
  await connection.run(MINUTES_TABLE);
  await connection.run('DROP TABLE stage_minutes');

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
