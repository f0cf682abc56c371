import type {
  DuckDBIntegerVector,
  DuckDBListVector,
  DuckDBStructVector,
  DuckDBUIntegerVector,
  DuckDBUTinyIntVector,
} from '@duckdb/node-api';
import { COUNT_COLUMNS, COUNT_FIELDS, type CountField } from '../../aggregate/counts.js';
import { OpenHour } from '../minute-index/hour-blocks.js';
import { MINUTES_PER_HOUR } from '../minute-index/packed-hour.js';
import type { DuckDbDatabase } from './duckdb-database.js';

/** How the background load of the minute index ended. */
export interface MinuteIndexLoad {
  readonly hours: number;
  readonly ms: number;
  /** Set when the load failed: the index then serves nothing and queries read the store. */
  readonly failure?: Error;
}

/**
 * Where the stored hours go: the MinuteIndex itself when it lives on the
 * thread that reads the store, or a sink that posts them to the thread that
 * holds the index (the aggregation thread of `adtally serve`).
 */
export interface StoredHourSink {
  /** The store holds no row of `hour` or later. */
  startLive(hour: number): void;
  /** The hours to load, newest first, once `startLive` was told. */
  hoursToLoad(): number[];
  /** The stored counts of `hour`, read while no commit could interleave. */
  loadHour(hour: number, block: OpenHour): void;
  fail(err: unknown): void;
  readonly failed: Error | undefined;
}

/** Chunks (2,048 ads each) read between two yields to the event loop while one hour loads. */
const CHUNKS_PER_TURN = 1;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const BILLABLE: readonly CountField[] = ['impressions', 'clicks'];
const INVALID = COUNT_FIELDS.filter((f) => !BILLABLE.includes(f));
const cellStruct = (fields: readonly CountField[]): string =>
  `{o: ("minute" - $1)::UTINYINT, ${fields.map((f) => `${COUNT_COLUMNS[f]}: ${COUNT_COLUMNS[f]}::UINTEGER`).join(', ')}}`;

/**
 * One row per ad with its cells of the hour as lists of structs (offset and
 * counters): ~10,000 rows an hour instead of 600,000 cuts the per-chunk cost
 * of the client, and the invalid counters, nearly always zero, are listed
 * only for the minutes that have one. Each struct carries its offset, so
 * the order inside a list does not matter. (A FILTER that keeps nothing
 * yields NULL, whose list entry is not to be read: hence the coalesce.)
 */
const HOUR_SQL = `SELECT ad,
    list(${cellStruct(BILLABLE)}) AS billable,
    coalesce(list(${cellStruct(INVALID)}) FILTER (WHERE ${INVALID.map((f) => `${COUNT_COLUMNS[f]} <> 0`).join(' OR ')}), []) AS invalid
  FROM agg_minute WHERE "minute" >= $1 AND "minute" < $2
  GROUP BY ad`;

/** Adds the cells of `list` (row `row` of a list-of-struct column holding `fields`) for `ad` into `block`. */
function addCells(
  block: OpenHour,
  ad: number,
  list: DuckDBListVector,
  row: number,
  fields: readonly CountField[],
): void {
  const length = list.getEntryLength(row);
  if (length === 0) return;
  const cells = list.childVector as DuckDBStructVector;
  const offsets = cells.entryVectorAt(0) as DuckDBUTinyIntVector;
  const values = fields.map((_, i) => cells.entryVectorAt(1 + i) as DuckDBUIntegerVector);
  const fieldIndex = fields.map((f) => COUNT_FIELDS.indexOf(f));
  const first = list.getEntryOffset(row);
  for (let k = first; k < first + length; k++) {
    const cell = block.cellOf(ad, offsets.getItem(k)!);
    for (let i = 0; i < values.length; i++) {
      const value = values[i]!.getItem(k)!;
      if (value !== 0) block.addAt(cell, fieldIndex[i]!, value);
    }
  }
}

/**
 * Tells the index which hours have no stored rows yet (every hour after the
 * newest stored minute): those are complete as of now. Must run before the
 * first commit the index is to follow (the store's `create` awaits it).
 */
export async function startMinuteIndex(db: DuckDbDatabase, index: StoredHourSink): Promise<void> {
  await db.exclusive(async (connection) => {
    const reader = await connection.runAndReadAll('SELECT max("minute")::BIGINT AS newest FROM agg_minute');
    const newest = reader.getRowObjectsJS()[0]?.newest;
    const hour =
      typeof newest === 'bigint'
        ? Math.floor(Number(newest) / MINUTES_PER_HOUR) + 1
        : Number.NEGATIVE_INFINITY;
    index.startLive(hour);
  });
}

/**
 * Reads the stored hours of the window into the index, newest first. Each
 * hour is one exclusive read, applied to the index before any other
 * statement runs, so commits interleave between hours but never within one;
 * the read yields to the event loop every few chunks, so clicks are not held
 * up by a large hour (10,000 ads: 600,000 rows).
 */
export async function loadStoredHours(db: DuckDbDatabase, index: StoredHourSink): Promise<MinuteIndexLoad> {
  const started = performance.now();
  let hours = 0;
  try {
    for (const hour of index.hoursToLoad()) {
      if (db.closed) break;
      await db.exclusive(async (connection) => {
        if (db.closed) return;
        const first = hour * MINUTES_PER_HOUR;
        const result = await connection.run(HOUR_SQL, [BigInt(first), BigInt(first + MINUTES_PER_HOUR)]);
        const block = new OpenHour();
        for (let c = 0; c < result.chunkCount; c++) {
          if (c % CHUNKS_PER_TURN === 0) await nextTurn();
          const chunk = result.getChunk(c);
          const ads = chunk.getColumnVector(0) as DuckDBIntegerVector;
          const billable = chunk.getColumnVector(1) as DuckDBListVector;
          const invalid = chunk.getColumnVector(2) as DuckDBListVector;
          const rows = chunk.rowCount;
          for (let row = 0; row < rows; row++) {
            const ad = ads.getItem(row)!;
            addCells(block, ad, billable, row, BILLABLE);
            addCells(block, ad, invalid, row, INVALID);
          }
        }
        index.loadHour(hour, block);
        hours++;
      });
    }
    return { hours, ms: performance.now() - started };
  } catch (err) {
    index.fail(err);
    return { hours, ms: performance.now() - started, failure: index.failed };
  }
}
