/**
 * Retention of the batch layer's data (SPEC 5, `--retention`): raw archive
 * hours and aggregate minutes older than their age are deleted in the
 * background. The event log has its own retention (log/log-retention.ts),
 * bound by what its consumers committed; these two are bound by age alone.
 */

/** How long each kind of data is kept (ms). */
export interface RetentionAges {
  readonly rawMs: number;
  readonly aggregatesMs: number;
}

export const DEFAULT_RETENTION: RetentionAges = { rawMs: 90 * 86_400_000, aggregatesMs: 400 * 86_400_000 };

export interface ArchiveDeletion {
  readonly hours: number;
  readonly files: number;
  readonly bytes: number;
}

export interface AggregateDeletion {
  /** Minute rows deleted (rows of whole partitions dropped included, where the store knows them). */
  readonly rows: number;
}

export interface RetentionObserver {
  onArchiveDeleted(deleted: ArchiveDeletion): void;
  onAggregatesDeleted(deleted: AggregateDeletion): void;
}

export interface DataRetentionOptions {
  readonly ages: RetentionAges;
  /** Deletes archive hours that start before `hourMs`; absent when the process keeps no archive. */
  readonly deleteArchiveHoursBefore?: (hourMs: number) => Promise<ArchiveDeletion>;
  /** Deletes aggregate minutes before `minute` (minutes since the epoch). */
  readonly deleteMinutesBefore?: (minute: number) => Promise<AggregateDeletion>;
  readonly observer?: RetentionObserver;
  readonly now?: () => number;
  /** Time between passes (default 10 minutes: the ages are days, an hour's file is the unit deleted). */
  readonly intervalMs?: number;
  readonly warn?: (line: string) => void;
}

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

/** The first hour and the first minute each kind keeps at `now`: everything before goes. */
export function retentionCutoffs(
  ages: RetentionAges,
  now: number,
): { archiveHourMs: number; minute: number } {
  // Whole hours of the archive: an hour is deleted once all of it is past the age.
  const archiveHourMs = Math.floor((now - ages.rawMs) / HOUR_MS) * HOUR_MS;
  const minute = Math.floor((now - ages.aggregatesMs) / MINUTE_MS);
  return { archiveHourMs, minute };
}

/**
 * Runs a pass now and every `intervalMs` (one at a time) until the returned
 * function is called, which waits for a pass in flight. A failed deletion is
 * a warning and the next pass tries again: nothing is lost by deleting late.
 */
export function startDataRetention(options: DataRetentionOptions): () => Promise<void> {
  const now = options.now ?? Date.now;
  const intervalMs = options.intervalMs ?? 10 * MINUTE_MS;
  const warn = options.warn ?? ((line: string) => console.error(line));
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> = Promise.resolve();

  const runPass = async (): Promise<void> => {
    const { archiveHourMs, minute } = retentionCutoffs(options.ages, now());
    if (options.deleteArchiveHoursBefore !== undefined) {
      try {
        options.observer?.onArchiveDeleted(await options.deleteArchiveHoursBefore(archiveHourMs));
      } catch (err) {
        warn(`adtally: archive retention failed, retrying in ${intervalMs} ms: ${(err as Error).message}`);
      }
    }
    if (options.deleteMinutesBefore !== undefined) {
      try {
        options.observer?.onAggregatesDeleted(await options.deleteMinutesBefore(minute));
      } catch (err) {
        warn(`adtally: aggregate retention failed, retrying in ${intervalMs} ms: ${(err as Error).message}`);
      }
    }
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      pass = runPass().finally(schedule);
    }, intervalMs);
    timer.unref();
  };
  pass = runPass().finally(schedule);
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await pass;
  };
}

/**
 * `--retention`: `raw=90d,aggregates=400d` (either part may be left out and
 * keeps its default), or one duration for both (`--retention 30d`).
 */
export function parseRetention(
  raw: string,
  parseDuration: (text: string) => number | undefined,
): RetentionAges | { error: string } {
  const parts = raw.split(',').map((part) => part.trim());
  if (parts.length === 1 && !parts[0]!.includes('=')) {
    const ms = parseDuration(parts[0]!);
    return ms === undefined || ms <= 0
      ? { error: `"${raw}" is not a duration such as 90d (or raw=90d,aggregates=400d)` }
      : { rawMs: ms, aggregatesMs: ms };
  }
  const ages: { rawMs: number; aggregatesMs: number } = { ...DEFAULT_RETENTION };
  const seen = new Set<string>();
  for (const part of parts) {
    const match = /^(raw|aggregates)=(.+)$/.exec(part);
    if (match === null) return { error: `"${part}": expected raw=<duration> or aggregates=<duration>` };
    const [, key, value] = match as unknown as [string, 'raw' | 'aggregates', string];
    if (seen.has(key)) return { error: `${key} is given twice` };
    seen.add(key);
    const ms = parseDuration(value);
    if (ms === undefined || ms <= 0) return { error: `${key}: "${value}" is not a duration such as 90d` };
    if (key === 'raw') ages.rawMs = ms;
    else ages.aggregatesMs = ms;
  }
  return ages;
}

/**
 * The least `--retention` keeps of the aggregates: `serve` answers the last
 * 26 hours from its in-memory minute index, which must never show minutes
 * the store no longer holds, and reconciliation reruns hours up to a day back.
 */
export const MIN_AGGREGATE_RETENTION_MS = 2 * 86_400_000;
/** The least it keeps of the raw archive: reconciliation reads the token lifetime (24 h) before an hour. */
export const MIN_RAW_RETENTION_MS = 2 * 86_400_000;

/** parseRetention with the lower bounds above, for the `--retention` flag. */
export function parseRetentionSetting(
  raw: string,
  parseDuration: (text: string) => number | undefined,
): RetentionAges | { error: string } {
  const ages = parseRetention(raw, parseDuration);
  if ('error' in ages) return ages;
  if (ages.rawMs < MIN_RAW_RETENTION_MS) {
    return { error: 'raw must be at least 2d (reconciliation reads a token lifetime before each hour)' };
  }
  if (ages.aggregatesMs < MIN_AGGREGATE_RETENTION_MS) {
    return { error: 'aggregates must be at least 2d (serve answers the last 26 hours from memory)' };
  }
  return ages;
}
