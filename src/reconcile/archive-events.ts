import {
  DuckDBInstance,
  type DuckDBConnection,
  type DuckDBDataChunk,
  type DuckDBVector,
} from '@duckdb/node-api';
import { MINUTE_MS } from '../aggregate/minute.js';
import { archiveScanSql, hasArchiveFiles } from '../archive/archive-scan.js';
import { EVENT_TYPES } from '../domain/event.js';
import { OUTCOMES } from '../domain/outcome.js';
import type { RecomputedEvent } from './recompute.js';

export interface ArchiveSelection {
  /** The archive's root directory. */
  readonly root: string;
  /** Per log partition, the offset below which its rows are taken (the consumer's checkpoint). */
  readonly cuts: ReadonlyMap<number, number>;
  /** The minutes recomputed: [fromMinute, toMinute). */
  readonly fromMinute: number;
  readonly toMinute: number;
  /** How far around the range valid rows sharing an impression with the range are taken (dedupContextMs). */
  readonly contextMs: number;
  /** DuckDB spills its sort here past its memory limit. */
  readonly tempDir: string;
}

/** The memory budget of the archive reader: DuckDB's own limit, past which its sort spills to `tempDir`. */
export const ARCHIVE_READ_MEMORY = '512MB';
/** Rows handed to the recompute at a time; with DuckDB's streaming result, what JS holds at once. */
export const ARCHIVE_CHUNK_ROWS = 8_192;

/**
 * Type and outcome travel as one small integer, `type * 8 + outcome` (their
 * indexes in EVENT_TYPES and OUTCOMES), NULL for a value this build does not
 * know: numbers cross from DuckDB to JS far cheaper than two strings a row
 * (every column is read from its vector; no value objects per row).
 */
function codeSql(): string {
  const index = (column: string, values: readonly string[]): string =>
    `(CASE ${column} ${values.map((v, i) => `WHEN '${v}' THEN ${i}`).join(' ')} END)`;
  return `(${index('type', EVENT_TYPES)} * 8 + ${index('outcome', OUTCOMES)})::INTEGER`;
}

/** The UTC date (YYYY-MM-DD) of an instant, for the `dt` directories. */
const dateOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/**
 * The SELECT of the rows reconciliation recomputes a range from: every row
 * of the range, plus the valid rows of the dedup context that share
 * (type, ad, imp) with a valid row of the range (only they can decide which
 * valid event of an impression is its first), each partition cut at its
 * offset, in log order. The `dt` filter lets DuckDB skip the days outside.
 */
export function archiveEventsSql(
  scan: string,
  selection: Omit<ArchiveSelection, 'root' | 'tempDir'>,
): string {
  const fromMs = selection.fromMinute * MINUTE_MS;
  const toMs = selection.toMinute * MINUTE_MS;
  const ts = (ms: number): string => `make_timestamp(${Math.round(ms * 1000)}::BIGINT)`;
  const cuts = [...selection.cuts].map(([p, cut]) => `("partition" = ${p} AND "offset" < ${cut})`);
  const cutFilter = cuts.length === 0 ? 'false' : cuts.join(' OR ');
  const inRange = `event_time >= ${ts(fromMs)} AND event_time < ${ts(toMs)}`;
  return `
    WITH cut AS (
      SELECT "partition", "offset", type, outcome, event_time, received_at, token_ts, ad, imp, origin
      FROM ${scan}
      WHERE dt >= DATE '${dateOf(fromMs - selection.contextMs)}' AND dt <= DATE '${dateOf(toMs + selection.contextMs)}'
        AND (${cutFilter})
    ),
    ranged AS (SELECT * FROM cut WHERE ${inRange}),
    impressions AS (SELECT DISTINCT type, ad, imp FROM ranged WHERE outcome = 'ok'),
    context AS (
      SELECT cut.* FROM cut SEMI JOIN impressions USING (type, ad, imp)
      WHERE cut.outcome = 'ok' AND NOT (${inRange})
        AND event_time >= ${ts(fromMs - selection.contextMs)} AND event_time < ${ts(toMs + selection.contextMs)}
    )
    SELECT "partition"::INTEGER, "offset"::DOUBLE, ${codeSql()} AS code,
      epoch_us(event_time) / 1000.0 AS event_ms, epoch_us(received_at) / 1000.0 AS received_ms,
      token_ts::DOUBLE, ad::INTEGER, imp, origin
    FROM (SELECT * FROM ranged UNION ALL SELECT * FROM context)
    ORDER BY "partition", "offset"`;
}

/** The rows of one DuckDB chunk of archiveEventsSql, appended to `into`. */
function eventsOf(chunk: DuckDBDataChunk, into: RecomputedEvent[]): void {
  const [partition, offset, code, eventMs, receivedMs, tokenTs, ad, imp, origin] = Array.from<
    unknown,
    DuckDBVector
  >({ length: 9 }, (_, i) => chunk.getColumnVector(i));
  for (let row = 0; row < chunk.rowCount; row++) {
    const c = code!.getItem(row) as number | null;
    const type = c === null ? undefined : EVENT_TYPES[c >> 3];
    const outcome = c === null ? undefined : OUTCOMES[c & 7];
    if (type === undefined || outcome === undefined) {
      throw new Error(
        `archive row at partition ${String(partition!.getItem(row))} offset ${String(offset!.getItem(row))}: unknown type or outcome`,
      );
    }
    const from = origin!.getItem(row) as string | null;
    into.push({
      partition: partition!.getItem(row) as number,
      offset: offset!.getItem(row) as number,
      type,
      outcome,
      eventTime: eventMs!.getItem(row) as number,
      receivedAt: receivedMs!.getItem(row) as number,
      tokenTs: tokenTs!.getItem(row) as number,
      ad: ad!.getItem(row) as number,
      imp: (imp!.getItem(row) as string | null) ?? '',
      origin: from ?? undefined,
    });
  }
}

async function openReader(
  tempDir: string,
): Promise<{ instance: DuckDBInstance; connection: DuckDBConnection }> {
  const instance = await DuckDBInstance.create(':memory:', {
    memory_limit: ARCHIVE_READ_MEMORY,
    threads: '2',
    temp_directory: tempDir,
  });
  return { instance, connection: await instance.connect() };
}

/**
 * The archive rows of a selection (see archiveEventsSql), streamed from a
 * DuckDB instance of its own (in memory, never the store's file) in chunks
 * of at most ARCHIVE_CHUNK_ROWS: the rows never sit in JS all at once, and
 * DuckDB's sort stays within ARCHIVE_READ_MEMORY, spilling past it. An
 * archive with no file yet holds no rows.
 */
export async function* archiveEvents(selection: ArchiveSelection): AsyncIterable<RecomputedEvent[]> {
  if (selection.cuts.size === 0 || !(await hasArchiveFiles(selection.root))) return;
  const { instance, connection } = await openReader(selection.tempDir);
  try {
    const result = await connection.stream(archiveEventsSql(archiveScanSql(selection.root), selection));
    let batch: RecomputedEvent[] = [];
    for (;;) {
      const chunk = await result.fetchChunk();
      if (chunk === null || chunk.rowCount === 0) break;
      eventsOf(chunk, batch);
      if (batch.length >= ARCHIVE_CHUNK_ROWS) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
