import { COUNT_COLUMNS, COUNT_FIELDS } from '../../aggregate/counts.js';
import { SCHEMA_LOCK_SQL, type PostgresDatabase } from './postgres-database.js';

export const MINUTES_PER_DAY = 1440;
export const COLUMNS = COUNT_FIELDS.map((f) => COUNT_COLUMNS[f]);

/*
 * Counters are `integer`: one (ad, minute) cell holds at most the events of
 * one ad in one minute, far below 2^31 even at 1M events/s for a single ad
 * (60M a minute), and 4 bytes a counter instead of 8 makes a heap row 84
 * bytes instead of 132 (docs/POSTGRES-STORE.md has the measured sizes).
 *
 * The primary key INCLUDEs the counters: a series is then an index-only scan
 * (a day of one ad is ~15 index pages, where the heap, written minute by
 * minute for every ad, holds that ad's 1,440 rows on 1,440 pages). The price,
 * measured: the index is 134 bytes a row instead of 30, and no counter
 * update is HOT. docs/POSTGRES-STORE.md weighs it.
 *
 * agg_minute is partitioned by UTC day on `minute` (minutes since the Unix
 * epoch): a 24-hour series touches at most two partitions, and a day past
 * retention is dropped as one table instead of deleted row by row. There is
 * no default partition, so a row for a day without one fails loudly; the
 * store creates each day's partition before the first commit touching it
 * (`DayPartitions.ensure`).
 *
 * dedup_entries is keyed by (kind, ad, imp): a re-listed impression (its
 * expiry extended) upserts its row, keeping the first offset. `ad` is 0 for
 * ANY_AD (never a real ad id), so the key needs no NULL.
 */
const counterDdl = COLUMNS.map((c) => `${c} integer NOT NULL DEFAULT 0`).join(',\n  ');
export const AGGREGATE_SCHEMA = `
CREATE TABLE IF NOT EXISTS agg_minute (
  ad integer NOT NULL,
  minute integer NOT NULL,
  ${counterDdl},
  PRIMARY KEY (ad, minute) INCLUDE (${COLUMNS.join(', ')})
) PARTITION BY RANGE (minute);
CREATE TABLE IF NOT EXISTS agg_late (
  ad integer NOT NULL,
  minute integer NOT NULL,
  ${counterDdl},
  PRIMARY KEY (ad, minute)
);
CREATE TABLE IF NOT EXISTS dedup_entries (
  kind smallint NOT NULL,
  ad integer NOT NULL,
  imp text NOT NULL,
  first_offset bigint NOT NULL,
  expires_at double precision NOT NULL,
  PRIMARY KEY (kind, ad, imp)
);
CREATE INDEX IF NOT EXISTS dedup_entries_expires_at ON dedup_entries (expires_at);
CREATE TABLE IF NOT EXISTS consumer_checkpoints (
  consumer text PRIMARY KEY,
  log_offset bigint NOT NULL,
  max_event_time double precision,
  committed_at double precision NOT NULL
);
CREATE TABLE IF NOT EXISTS consumer_owners (
  consumer text PRIMARY KEY,
  epoch bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS spill_holds (
  collector text PRIMARY KEY,
  since_ms double precision NOT NULL
);
`;

/**
 * Vacuum a day partition after every ~0.5 % of rows inserted or changed, not
 * the default 20 %: vacuum marks pages all-visible, and only those let a
 * series be answered from the covering primary key alone. Each run reads only
 * the pages changed since the last (the visibility map), so running often
 * stays cheap.
 */
const PARTITION_AUTOVACUUM = [
  'autovacuum_vacuum_insert_scale_factor = 0.005',
  'autovacuum_vacuum_scale_factor = 0.005',
  'autovacuum_analyze_scale_factor = 0.02',
].join(', ');

/** The partition holding UTC day `day` (days since the epoch): agg_minute_20261124. */
export function partitionName(day: number): string {
  return `agg_minute_${new Date(day * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

/** The day a partition's name (agg_minute_20261124) stands for, undefined for another name. */
function dayOfPartition(name: string): number | undefined {
  const match = /^agg_minute_(\d{4})(\d{2})(\d{2})$/.exec(name);
  return match === null ? undefined : Date.UTC(+match[1]!, +match[2]! - 1, +match[3]!) / 86_400_000;
}

export const dayOf = (minute: number): number => Math.floor(minute / MINUTES_PER_DAY);

/**
 * The day partitions of agg_minute this process knows exist. Creating one
 * takes an ACCESS EXCLUSIVE lock on agg_minute for a moment, so it happens in
 * its own short transaction before the commit that needs it (never inside a
 * commit, which would hold the lock to its end), under the schema lock, and
 * only after checking the catalog: a partition another process created is
 * found and not created again.
 */
export class DayPartitions {
  private readonly known = new Set<number>();
  private pending: Promise<void> = Promise.resolve();

  constructor(private readonly db: PostgresDatabase) {}

  /** Reads the partitions that exist (at open). */
  async load(): Promise<void> {
    const rows = await this.db.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'agg_minute'::regclass`,
    );
    for (const { name } of rows) {
      const day = dayOfPartition(name);
      if (day !== undefined) this.known.add(day);
    }
  }

  /**
   * Runs `write` (statements writing rows of `minutes`) once their days'
   * partitions exist. Another process's retention may have dropped a day
   * this one still believes in (PostgreSQL then refuses the row, 23514): the
   * list is read again from the catalog and `write` runs once more.
   */
  async writing<T>(minutes: readonly number[], write: () => Promise<T>): Promise<T> {
    await this.ensureFor(minutes);
    try {
      return await write();
    } catch (err) {
      if ((err as { code?: string }).code !== '23514') throw err;
      this.known.clear();
      await this.load();
      await this.ensureFor(minutes);
      return write();
    }
  }

  /** Makes sure a partition exists for every day of `minutes`; cheap when they all do. */
  ensureFor(minutes: Iterable<number>): Promise<void> {
    const missing = new Set<number>();
    for (const minute of minutes) {
      const day = dayOf(minute);
      if (!this.known.has(day)) missing.add(day);
    }
    if (missing.size === 0) return Promise.resolve();
    // One creation at a time in this process; concurrent commits for the same new day wait for it.
    const run = this.pending.then(() => this.create([...missing].filter((d) => !this.known.has(d))));
    this.pending = run.catch(() => undefined);
    return run;
  }

  /**
   * Drops the partitions of days that end at or before `minute` (retention),
   * whether this process or another created them; returns how many and the
   * rows they held. Under the schema lock, like creation, and in the same queue.
   */
  dropBefore(minute: number): Promise<{ partitions: number; rows: number }> {
    const run = this.pending.then(() =>
      this.db.transaction(async (tx) => {
        await tx.query(SCHEMA_LOCK_SQL);
        const rows = await tx.query<{ name: string }>(
          `SELECT c.relname AS name FROM pg_inherits i
           JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'agg_minute'::regclass`,
        );
        const dropped: number[] = [];
        let held = 0;
        for (const { name } of rows) {
          const day = dayOfPartition(name);
          if (day === undefined || (day + 1) * MINUTES_PER_DAY > minute) continue;
          // Counted for the retention metric: a day's partition is dropped once, so the scan is rare.
          const [count] = await tx.query<{ n: number }>(`SELECT count(*)::float8 AS n FROM ${name}`);
          held += count?.n ?? 0;
          await tx.query(`DROP TABLE ${name}`);
          dropped.push(day);
        }
        return { days: dropped, rows: held };
      }),
    );
    this.pending = run.then(
      () => undefined,
      () => undefined,
    );
    return run.then(({ days, rows }) => {
      for (const day of days) this.known.delete(day);
      return { partitions: days.length, rows };
    });
  }

  private async create(days: number[]): Promise<void> {
    if (days.length === 0) return;
    await this.db.transaction(async (tx) => {
      await tx.query(SCHEMA_LOCK_SQL);
      for (const day of days) {
        const name = partitionName(day);
        const [found] = await tx.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [
          name,
        ]);
        if (found?.exists === true) continue;
        const from = day * MINUTES_PER_DAY;
        await tx.query(
          `CREATE TABLE ${name} PARTITION OF agg_minute FOR VALUES FROM (${from}) TO (${from + MINUTES_PER_DAY})
           WITH (${PARTITION_AUTOVACUUM})`,
        );
      }
    });
    for (const day of days) this.known.add(day);
  }
}
