import { join } from 'node:path';

/**
 * Where the raw archive keeps its files (SPEC 5): hourly Parquet files in a
 * Hive layout by event time, so DuckDB, Spark, Trino and pandas read the
 * whole tree as one table with `dt` and `hour` columns:
 *
 *   <root>/dt=YYYY-MM-DD/hour=HH/part-<first offset>-<last offset>.parquet
 *
 * `first` and `last` are the log offsets of the file's first and last rows,
 * zero-padded so names sort in log order. A log with more than one partition
 * (Kafka) puts the partition in front: `part-<partition>-<first>-<last>`.
 * A file is written under its name plus TMP_SUFFIX, fsync'd, then renamed:
 * a name without the suffix is always a whole file.
 */
export const TMP_SUFFIX = '.tmp';

/**
 * The name a file has while it is written: hidden (a leading dot) as well as
 * suffixed, because Spark, Hive, Trino and pyarrow list every file of a
 * partition directory except those starting with `.` or `_`: a visible
 * `part-...parquet.tmp` would be read half-written by `spark.read.parquet(root)`.
 */
export function archiveTmpName(finalName: string): string {
  return `.${finalName}${TMP_SUFFIX}`;
}
const OFFSET_DIGITS = 20;
const HOUR_MS = 3_600_000;

export interface ArchiveFileName {
  /** Undefined for a single-partition log (the file log). */
  readonly partition: number | undefined;
  readonly first: number;
  readonly last: number;
}

/** The hour (ms since the epoch, a multiple of an hour) an event time falls in. */
export function hourOf(eventTimeMs: number): number {
  return Math.floor(eventTimeMs / HOUR_MS) * HOUR_MS;
}

/** `dt=YYYY-MM-DD/hour=HH` of an hour start (UTC). */
export function hourDirName(hourMs: number): string {
  const iso = new Date(hourMs).toISOString();
  return `dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}`;
}

export function hourDir(root: string, hourMs: number): string {
  return join(root, hourDirName(hourMs));
}

/** The hour start (ms) a `dt=`/`hour=` pair names, or undefined when they are not one. */
export function parseHourDir(dt: string, hour: string): number | undefined {
  const d = /^dt=(\d{4}-\d{2}-\d{2})$/.exec(dt);
  const h = /^hour=(\d{2})$/.exec(hour);
  if (d === null || h === null || Number(h[1]) > 23) return undefined;
  const ms = Date.parse(`${d[1]}T${h[1]}:00:00.000Z`);
  return Number.isNaN(ms) ? undefined : ms;
}

const pad = (offset: number): string => String(offset).padStart(OFFSET_DIGITS, '0');

export function archiveFileName(name: ArchiveFileName): string {
  const partition = name.partition === undefined ? '' : `${name.partition}-`;
  return `part-${partition}${pad(name.first)}-${pad(name.last)}.parquet`;
}

const FILE_NAME = /^part-(?:(\d{1,9})-)?(\d{1,20})-(\d{1,20})\.parquet$/;

/** What a final file's name says, or undefined for any other name (a `.tmp`, a stranger's file). */
export function parseArchiveFileName(name: string): ArchiveFileName | undefined {
  const match = FILE_NAME.exec(name);
  if (match === null) return undefined;
  const first = Number(match[2]);
  const last = Number(match[3]);
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || last < first) return undefined;
  return { partition: match[1] === undefined ? undefined : Number(match[1]), first, last };
}

/** The glob of every archive file, for `read_parquet(..., hive_partitioning = true)`. */
export function archiveGlob(root: string): string {
  return join(root, 'dt=*', 'hour=*', 'part-*.parquet');
}
