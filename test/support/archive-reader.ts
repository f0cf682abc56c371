import { DuckDBInstance } from '@duckdb/node-api';
import { archiveScanSql, hasArchiveFiles } from '../../src/archive/archive-scan.js';
import { decodeEvent, EventDecodeError, type TrackedEvent } from '../../src/domain/event.js';
import type { EventLog } from '../../src/log/event-log.js';

/** One archive row as the tests compare it (the Hive columns included). */
export interface ArchiveRow {
  readonly partition: number;
  readonly offset: number;
  readonly type: string;
  readonly outcome: string;
  readonly ad: number;
  readonly campaign: number | null;
  readonly advertiser: number | null;
  readonly imp: string;
  readonly eventTimeMs: number;
  readonly dt: string;
  readonly hour: number;
}

/**
 * Every row of the archive at `root`, read the way users read it: DuckDB's
 * read_parquet over the Hive layout, in (partition, offset) order. No file: no row.
 */
export async function readArchive(root: string): Promise<ArchiveRow[]> {
  if (!(await hasArchiveFiles(root))) return [];
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(
      `SELECT "partition", "offset", type, outcome, ad, campaign, advertiser, imp,
              epoch_ms(event_time) AS event_time_ms, CAST(dt AS VARCHAR) AS dt, hour
         FROM ${archiveScanSql(root)} ORDER BY "partition", "offset"`,
    );
    // The casts follow the SELECT's column types.
    type Raw = Record<'type' | 'outcome' | 'imp' | 'dt', string> & Record<string, unknown>;
    return (reader.getRowObjectsJS() as Raw[]).map((r) => ({
      partition: Number(r.partition),
      offset: Number(r.offset),
      type: r.type,
      outcome: r.outcome,
      ad: Number(r.ad),
      campaign: r.campaign === null ? null : Number(r.campaign),
      advertiser: r.advertiser === null ? null : Number(r.advertiser),
      imp: r.imp,
      eventTimeMs: Number(r.event_time_ms),
      dt: r.dt,
      hour: Number(r.hour),
    }));
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Every decodable event of a log with its offset, read from its start. */
export async function readLogEvents(log: EventLog): Promise<{ offset: number; event: TrackedEvent }[]> {
  const out: { offset: number; event: TrackedEvent }[] = [];
  let at = log.startOffset();
  while (at < log.durableEnd()) {
    const batch = await log.read(at, 4 * 1024 * 1024);
    for (const record of batch.records) {
      try {
        out.push({ offset: record.offset, event: decodeEvent(record.payload) });
      } catch (err) {
        if (!(err instanceof EventDecodeError)) throw err;
      }
    }
    if (batch.next === at) break;
    at = batch.next;
  }
  return out;
}

/** `type/outcome` -> count, to compare an archive with its log. */
export function countByKind(rows: readonly { type: string; outcome: string }[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { type, outcome } of rows)
    counts[`${type}/${outcome}`] = (counts[`${type}/${outcome}`] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

/** (partition, offset) pairs that appear more than once. */
export function duplicatePositions(rows: readonly { partition: number; offset: number }[]): string[] {
  const seen = new Set<string>();
  const dups: string[] = [];
  for (const { partition, offset } of rows) {
    const key = `${partition}:${offset}`;
    if (seen.has(key)) dups.push(key);
    seen.add(key);
  }
  return dups;
}
