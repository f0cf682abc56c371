import type { TrackedEvent } from '../domain/event.js';

/**
 * One row of the raw archive: a tracked event as the log held it, where it
 * was in the log, and what the catalog said about its ad when it was
 * archived. The archive is the batch layer's source of truth (SPEC 4.5):
 * reconciliation recomputes the serving counts from these rows alone.
 */
export interface ArchivedEvent extends TrackedEvent {
  /** Log partition (0 for the file log). */
  readonly partition: number;
  /** Position in that partition; with `partition`, the log order the stream applied. */
  readonly offset: number;
  /** The ad's campaign and advertiser; undefined for an ad the catalog does not know. */
  readonly campaign: number | undefined;
  readonly advertiser: number | undefined;
  /** `<collector id>/<spill offset>` of a record forwarded from a collector's spill log. */
  readonly origin: string | undefined;
}

/**
 * The Parquet columns, in file order, with their DuckDB types. Plain types
 * (no unsigned integers, no enums) so Spark, Trino and pandas read them
 * as they are. `dt` and `hour` are not columns of the files: they are the
 * Hive directories (archive-layout.ts), which readers add back.
 *
 * - `outcome` is the collector's verdict (ok, bad_signature, expired, bot,
 *   prefetch, unknown_ad); `duplicate` is not in it: which of an
 *   impression's valid events is the first is decided from the log order,
 *   by the stream and by reconciliation alike.
 * - times are UTC timestamps with millisecond precision; `token_ts` is the
 *   token's issue time in unix seconds (0: no token).
 * - `ip_hash` is the 8-byte HMAC of the client IP as 16 hex digits.
 */
export const ARCHIVE_COLUMNS = [
  ['partition', 'INTEGER'],
  ['offset', 'BIGINT'],
  ['type', 'VARCHAR'],
  ['outcome', 'VARCHAR'],
  ['event_time', 'TIMESTAMP'],
  ['received_at', 'TIMESTAMP'],
  ['token_ts', 'BIGINT'],
  ['ad', 'BIGINT'],
  ['campaign', 'BIGINT'],
  ['advertiser', 'BIGINT'],
  ['imp', 'VARCHAR'],
  ['ip_hash', 'VARCHAR'],
  ['user_agent', 'VARCHAR'],
  ['source', 'VARCHAR'],
  ['origin', 'VARCHAR'],
] as const;

export type ArchiveColumn = (typeof ARCHIVE_COLUMNS)[number][0];

/** `CREATE TABLE <name> (...)` with the archive's columns, for staging rows before COPY ... TO parquet. */
export function archiveTableDdl(name: string): string {
  const columns = ARCHIVE_COLUMNS.map(([column, type]) => `"${column}" ${type}`).join(', ');
  return `CREATE TABLE ${name} (${columns})`;
}
