import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { MINUTE_MS } from '../aggregate/minute.js';
import { archiveScanSql, hasArchiveFiles } from '../archive/archive-scan.js';
import { EVENT_TYPES, type EventType } from '../domain/event.js';
import { OUTCOMES, type Outcome } from '../domain/outcome.js';
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

const TYPES = new Set<string>(EVENT_TYPES);
const OUTCOME_SET = new Set<string>(OUTCOMES);

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
    SELECT "partition", "offset", type, outcome, epoch_us(event_time) / 1000.0 AS event_ms,
      epoch_us(received_at) / 1000.0 AS received_ms, token_ts, ad, imp, origin
    FROM (SELECT * FROM ranged UNION ALL SELECT * FROM context)
    ORDER BY "partition", "offset"`;
}

type Row = [
  number,
  bigint | number,
  string,
  string,
  number,
  number,
  bigint | number,
  bigint | number,
  string,
  string | null,
];

function eventOf(row: Row): RecomputedEvent {
  const [partition, offset, type, outcome, eventTime, receivedAt, tokenTs, ad, imp, origin] = row;
  if (!TYPES.has(type) || !OUTCOME_SET.has(outcome)) {
    throw new Error(
      `archive row at partition ${partition} offset ${offset}: unknown type ${type} or outcome ${outcome}`,
    );
  }
  return {
    partition,
    offset: Number(offset),
    type: type as EventType,
    outcome: outcome as Outcome,
    eventTime,
    receivedAt,
    tokenTs: Number(tokenTs),
    ad: Number(ad),
    imp,
    origin: origin ?? undefined,
  };
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
    for await (const rows of result.yieldRowsJs()) {
      for (const row of rows) batch.push(eventOf(row as unknown as Row));
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
