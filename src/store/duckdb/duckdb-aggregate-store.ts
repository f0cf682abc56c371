import {
  BIGINT,
  DOUBLE,
  INTEGER,
  LIST,
  UTINYINT,
  VARCHAR,
  listValue,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';
import { addCounts, type BucketCounts } from '../../aggregate/counts.js';
import { ANY_AD, type DedupEntry } from '../../aggregate/dedup-index.js';
import {
  FencedCommitError,
  ReconcileBusyError,
  type AggregateStore,
  type ReconcileRepair,
  type ReconcileSnapshot,
  type RetentionResult,
  type AggregationCommit,
  type CheckpointRow,
  type SpillHold,
  type ConsumerCheckpoint,
  type MinuteDelta,
  type ReadEventAt,
  type SeriesRow,
  type TopRow,
} from '../aggregate-store.js';
import { indexAnswers } from '../minute-index/index-answers.js';
import { appendColumns } from './column-appender.js';
import { COLUMNS, countsOf, mergeStaged, MINUTES_PER_DAY, stage } from './duckdb-minute-stage.js';
import {
  deleteMinutesBefore,
  lateHours,
  lateTotals,
  reconcileSnapshot,
  repairInTransaction,
} from './duckdb-reconcile-ops.js';
import { migrateDedupAds } from './dedup-ad-migration.js';
import { MinuteIndex, type MinuteIndexOptions } from '../minute-index/minute-index.js';
import type { DuckDbDatabase } from './duckdb-database.js';
import { claimOwnership, listCheckpoints, setSpillHold, spillHold } from './duckdb-consumer-state.js';
import { minuteRows } from './duckdb-minute-rows.js';
import { loadStoredHours, startMinuteIndex, type MinuteIndexLoad } from './minute-index-loader.js';

const COUNT_DDL = COLUMNS.map((c) => `${c} BIGINT NOT NULL DEFAULT 0`).join(',\n  ');

/*
 * agg_minute holds the serving counts. `ad_day` (ad * 100000 + day) carries
 * its own index: DuckDB's ART serves bare equality lookups, not ranges over a
 * composite key, so a 24-hour series is one `ad_day = ?` lookup per day it
 * spans (see seriesByDayKeys), not a scan of the table. Figures with 10,000
 * ads x 1,440 minutes are in docs/BENCHMARKS.md.
 *
 * `adtally serve` also keeps the last 26 hours of agg_minute in memory (the
 * minute index, ../minute-index/): series queries over them never reach
 * DuckDB. The index is derived: it is rebuilt from agg_minute at every start
 * and changed only right after a commit of this store (see `commit`), so
 * crash safety rests on the DuckDB transaction alone.
 *
 * dedup_entries is append-only: an impression listed again by
 * DedupIndex.takeNew (its expiry extended by a re-signed token) adds a row,
 * and DedupIndex's restore merges them (lowest offset, latest expiry), so no
 * key or upsert is needed. `ad` comes last because a table written by the
 * release that keyed dedup by imp alone gets it by ALTER TABLE ... ADD COLUMN
 * (dedup-ad-migration.ts), and the appender writes columns in table order;
 * NULL is an entry whose ad could not be recovered, matching any ad.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS agg_minute (
  ad INTEGER NOT NULL,
  "minute" BIGINT NOT NULL,
  ad_day BIGINT NOT NULL,
  ${COUNT_DDL},
  PRIMARY KEY (ad, "minute")
);
CREATE INDEX IF NOT EXISTS agg_minute_ad_day ON agg_minute (ad_day);
CREATE TABLE IF NOT EXISTS agg_late (
  ad INTEGER NOT NULL,
  "minute" BIGINT NOT NULL,
  ${COUNT_DDL},
  PRIMARY KEY (ad, "minute")
);
CREATE TABLE IF NOT EXISTS dedup_entries (
  kind UTINYINT NOT NULL,
  imp VARCHAR NOT NULL,
  first_offset BIGINT NOT NULL,
  expires_at DOUBLE NOT NULL,
  ad INTEGER
);
CREATE TEMP TABLE IF NOT EXISTS stage_minute (
  late BOOLEAN NOT NULL,
  ad INTEGER NOT NULL,
  "minute" INTEGER NOT NULL,
  ${COLUMNS.map((c) => `${c} INTEGER NOT NULL`).join(', ')}
);
CREATE TABLE IF NOT EXISTS consumer_checkpoints (
  consumer VARCHAR PRIMARY KEY,
  log_offset BIGINT NOT NULL,
  max_event_time DOUBLE
);
ALTER TABLE consumer_checkpoints ADD COLUMN IF NOT EXISTS committed_at DOUBLE;
CREATE TABLE IF NOT EXISTS consumer_owners (
  consumer VARCHAR PRIMARY KEY,
  epoch BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS spill_holds (
  collector VARCHAR PRIMARY KEY,
  since_ms DOUBLE NOT NULL
);
`;

/** The ad_day keys covering [fromMinute, toMinute) for each ad, or undefined when too many for an IN list. */
function dayKeys(ads: readonly number[], fromMinute: number, toMinute: number): number[] | undefined {
  const firstDay = Math.floor(fromMinute / MINUTES_PER_DAY);
  const lastDay = Math.floor((toMinute - 1) / MINUTES_PER_DAY);
  if (ads.length * (lastDay - firstDay + 1) > 64) return undefined;
  const keys: number[] = [];
  for (const ad of ads) for (let day = firstDay; day <= lastDay; day++) keys.push(ad * 100_000 + day);
  return keys;
}

const KIND_CODE = { impression: 0, click: 1 } as const;
const KIND_NAME = ['impression', 'click'] as const;

/** What a commit of this store changed, told right after COMMIT and before any other statement. */
export type CommittedChange =
  | {
      readonly kind: 'add';
      readonly consumer: string;
      readonly deltas: readonly MinuteDelta[];
      readonly checkpoint: ConsumerCheckpoint;
    }
  | { readonly kind: 'replace'; readonly rows: readonly MinuteDelta[] };

export interface DuckDbAggregateStoreOptions {
  /**
   * Keep the window's minutes in memory for series queries, on this thread.
   * Off for bulk writers (seeding, replay), which never query, and in
   * `adtally serve`, whose index lives on the request thread (`onCommitted`).
   */
  readonly minuteIndex?: MinuteIndexOptions;
  /**
   * Told of every committed change in commit order, inside the step that
   * committed it: a copy kept elsewhere (the request thread's minute index)
   * that applies them in that order stays equal to the store.
   */
  readonly onCommitted?: (change: CommittedChange) => void;
  /**
   * A second connection for series and top queries (DuckDbDatabase.connectAgain),
   * so they never wait behind a commit on the writing connection.
   */
  readonly reads?: DuckDbDatabase;
}

/** Aggregates, dedup state and consumer checkpoints in the embedded DuckDB file. */
export class DuckDbAggregateStore implements AggregateStore {
  private readonly reads: DuckDbDatabase;
  private readonly onCommitted: ((change: CommittedChange) => void) | undefined;
  private reconciling = false;

  private constructor(
    private readonly db: DuckDbDatabase,
    private readonly index: MinuteIndex | undefined,
    private readonly indexLoad: Promise<MinuteIndexLoad>,
    options: DuckDbAggregateStoreOptions,
  ) {
    this.reads = options.reads ?? db;
    this.onCommitted = options.onCommitted;
  }

  /**
   * Creates the schema. With `minuteIndex`, the index follows every commit
   * from here on, and the stored hours of its window load in the background
   * (queries over hours not loaded yet read DuckDB meanwhile).
   */
  static async create(
    db: DuckDbDatabase,
    options: DuckDbAggregateStoreOptions = {},
  ): Promise<DuckDbAggregateStore> {
    await db.run(SCHEMA);
    if (options.minuteIndex === undefined) {
      return new DuckDbAggregateStore(db, undefined, Promise.resolve({ hours: 0, ms: 0 }), options);
    }
    const index = new MinuteIndex(options.minuteIndex);
    await startMinuteIndex(db, index);
    return new DuckDbAggregateStore(db, index, loadStoredHours(db, index), options);
  }

  /** Settles when the minute index has read the stored hours of its window (never rejects). */
  minuteIndexLoaded(): Promise<MinuteIndexLoad> {
    return this.indexLoad;
  }

  async loadCheckpoint(consumer: string): Promise<ConsumerCheckpoint | undefined> {
    const [row] = await this.db.all<{ log_offset: bigint | number; max_event_time: number | null }>(
      'SELECT log_offset, max_event_time FROM consumer_checkpoints WHERE consumer = $1',
      [consumer],
    );
    if (row === undefined) return undefined;
    return { offset: Number(row.log_offset), maxEventTime: row.max_event_time ?? undefined };
  }

  claimOwnership(consumer: string): Promise<number> {
    return claimOwnership(this.db, consumer);
  }

  listCheckpoints(prefix: string): Promise<CheckpointRow[]> {
    return listCheckpoints(this.reads, prefix);
  }

  setSpillHold(collector: string, sinceMs: number | undefined): Promise<void> {
    return setSpillHold(this.db, collector, sinceMs);
  }

  spillHold(): Promise<SpillHold | undefined> {
    return spillHold(this.reads);
  }

  async loadDedup(horizonMs: number, readEventAt: ReadEventAt): Promise<DedupEntry[]> {
    const migrated = await migrateDedupAds(this.db, horizonMs, readEventAt);
    if (migrated !== undefined && migrated.entries > 0) {
      console.error(
        `adtally: dedup entries now keyed by (ad, imp): ${migrated.withAd} of ${migrated.entries} ` +
          'got their ad from the log, the others match any ad (the imp-only rule) until they expire',
      );
    }
    const rows = await this.db.all<{
      kind: number;
      ad: number | null;
      imp: string;
      first_offset: bigint | number;
      expires_at: number;
    }>('SELECT kind, ad, imp, first_offset, expires_at FROM dedup_entries WHERE expires_at >= $1', [
      horizonMs,
    ]);
    return rows.map((r) => ({
      kind: KIND_NAME[r.kind] ?? 'click',
      ad: r.ad ?? ANY_AD,
      imp: r.imp,
      firstOffset: Number(r.first_offset),
      expiresAt: r.expires_at,
    }));
  }

  /**
   * One transaction: deltas go through a TEMP staging table filled by the
   * appender and are merged with INSERT ... ON CONFLICT; dedup entries are
   * appended; the checkpoint is upserted. Binding the same data as list
   * parameters spent most of its time converting values (measured: the
   * replay ran at ~60k events/s that way). Once committed, and before any
   * other statement, the serving deltas go into the minute index.
   */
  commit(consumer: string, commit: AggregationCommit): Promise<void> {
    return this.db.transaction(
      async (tx) => {
        if (commit.epoch !== undefined) {
          // First, so a zombie's commit changes nothing: the whole transaction rolls back.
          const [owner] = await tx.all<{ epoch: bigint | number }>(
            'SELECT epoch FROM consumer_owners WHERE consumer = $1',
            [consumer],
          );
          const current = owner === undefined ? 0 : Number(owner.epoch);
          if (current !== commit.epoch) throw new FencedCommitError(consumer, commit.epoch, current);
        }
        if (commit.deltas.length + commit.lateDeltas.length > 0) {
          await stage(tx, [
            [false, commit.deltas],
            [true, commit.lateDeltas],
          ]);
          await tx.run(mergeStaged('agg_minute', false, 'add'));
          if (commit.lateDeltas.length > 0) await tx.run(mergeStaged('agg_late', true, 'add'));
          await tx.run('DELETE FROM stage_minute');
        }
        if (commit.dedupAdded.length > 0) {
          const entries = commit.dedupAdded;
          await tx.append('dedup_entries', (appender) =>
            appendColumns(appender, DEDUP_TYPES, entries.length, (v, row, i) => {
              const e = entries[i]!;
              v[0]!.setItem(row, KIND_CODE[e.kind]);
              v[1]!.setItem(row, e.imp);
              v[2]!.setItem(row, BigInt(e.firstOffset));
              v[3]!.setItem(row, e.expiresAt);
              v[4]!.setItem(row, e.ad === ANY_AD ? null : e.ad);
            }),
          );
        }
        if (commit.dedupExpireBefore !== undefined) {
          await tx.run('DELETE FROM dedup_entries WHERE expires_at < $1', [commit.dedupExpireBefore]);
        }
        await tx.run(
          `INSERT INTO consumer_checkpoints (consumer, log_offset, max_event_time, committed_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (consumer) DO UPDATE SET log_offset = excluded.log_offset,
             max_event_time = excluded.max_event_time, committed_at = excluded.committed_at`,
          [consumer, BigInt(commit.checkpoint.offset), commit.checkpoint.maxEventTime ?? null, Date.now()],
        );
      },
      () => {
        this.index?.add(commit.deltas);
        this.onCommitted?.({
          kind: 'add',
          consumer,
          deltas: commit.deltas,
          checkpoint: commit.checkpoint,
        });
      },
    );
  }

  /** Overwrites the serving counts of each (ad, minute), in DuckDB and then in the minute index. */
  replaceCounts(rows: readonly MinuteDelta[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return this.db.transaction(
      async (tx) => {
        await stage(tx, [[false, rows]]);
        await tx.run(mergeStaged('agg_minute', false, 'replace'));
        await tx.run('DELETE FROM stage_minute');
      },
      () => {
        this.index?.replace(rows);
        this.onCommitted?.({ kind: 'replace', rows });
      },
    );
  }

  reconcileSnapshot(
    consumerPrefix: string,
    fromMinute: number,
    toMinute: number,
  ): Promise<ReconcileSnapshot> {
    return reconcileSnapshot(this.db, consumerPrefix, fromMinute, toMinute);
  }

  /** The replaced rows then go into the minute index (and `onCommitted`) like replaceCounts' do. */
  repair(repair: ReconcileRepair): Promise<void> {
    return repairInTransaction(this.db, repair, () => {
      if (repair.replace.length === 0) return;
      this.index?.replace(repair.replace);
      this.onCommitted?.({ kind: 'replace', rows: repair.replace });
    });
  }

  /** One process owns a DuckDB file: a flag is the whole exclusion. */
  async exclusiveReconcile<T>(work: () => Promise<T>): Promise<T> {
    if (this.reconciling) throw new ReconcileBusyError();
    this.reconciling = true;
    try {
      return await work();
    } finally {
      this.reconciling = false;
    }
  }

  lateTotals(ads: readonly number[], fromMinute: number, toMinute: number): Promise<number> {
    return lateTotals(this.reads, ads, fromMinute, toMinute);
  }

  deleteMinutesBefore(minute: number): Promise<RetentionResult> {
    return deleteMinutesBefore(this.db, minute);
  }

  lateHours(beforeMinute: number): Promise<number[]> {
    return lateHours(this.reads, beforeMinute);
  }

  /** Which way `series` answers this query: from the minute index, or from DuckDB. */
  seriesSource(ads: readonly number[], fromMinute: number, toMinute: number): 'memory' | 'duckdb' {
    return indexAnswers(this.index, ads, fromMinute, toMinute) ? 'memory' : 'duckdb';
  }

  async series(
    ads: readonly number[],
    fromMinute: number,
    toMinute: number,
    bucketMinutes: number,
  ): Promise<SeriesRow[]> {
    if (ads.length === 0 || toMinute <= fromMinute) return [];
    if (this.index !== undefined && this.seriesSource(ads, fromMinute, toMinute) === 'memory') {
      return this.index.series(ads, fromMinute, toMinute, bucketMinutes);
    }
    const keys = dayKeys(ads, fromMinute, toMinute);
    if (keys !== undefined) return this.seriesByDayKeys(keys, fromMinute, toMinute, bucketMinutes);
    // Many ads over many days: one filtered scan, summed in SQL.
    const sums = COLUMNS.map((c) => `sum(${c})::DOUBLE AS ${c}`).join(', ');
    const rows = await this.reads.allTyped<Record<string, number | bigint>>(
      `SELECT ("minute" // $3) * $3 AS bucket, ${sums} FROM agg_minute
       WHERE ad IN (SELECT unnest($4::INTEGER[])) AND "minute" >= $1 AND "minute" < $2
       GROUP BY bucket ORDER BY bucket`,
      [BigInt(fromMinute), BigInt(toMinute), BigInt(bucketMinutes), listValue([...ads])],
      [BIGINT, BIGINT, BIGINT, LIST(INTEGER)],
    );
    return rows.map((row) => ({ minute: Number(row.bucket), counts: countsOf(row) }));
  }

  /**
   * One `ad_day = ?` lookup per (ad, day), bucketed here. That bare equality
   * is the one form DuckDB answers from the ART index; adding the minute range
   * (or an IN list) to the predicate makes its planner fall back to a full
   * scan (EXPLAIN ANALYZE over 14.4 M rows: 17 ms against 40-60 ms), so
   * minutes are filtered in JS.
   */
  private async seriesByDayKeys(
    keys: readonly number[],
    fromMinute: number,
    toMinute: number,
    bucketMinutes: number,
  ): Promise<SeriesRow[]> {
    const buckets = new Map<number, BucketCounts>();
    for (const key of keys) {
      const rows = await this.reads.all<Record<string, number | bigint>>(
        `SELECT "minute", ${COLUMNS.join(', ')} FROM agg_minute WHERE ad_day = $1`,
        [BigInt(key)],
      );
      for (const row of rows) {
        const minute = Number(row.minute);
        if (minute < fromMinute || minute >= toMinute) continue;
        const bucket = Math.floor(minute / bucketMinutes) * bucketMinutes;
        const counts = countsOf(row);
        const sum = buckets.get(bucket);
        if (sum === undefined) buckets.set(bucket, counts);
        else addCounts(sum, counts);
      }
    }
    return [...buckets.entries()].sort(([a], [b]) => a - b).map(([minute, counts]) => ({ minute, counts }));
  }

  minuteRows(
    ads: readonly number[] | undefined,
    fromMinute: number,
    toMinute: number,
    limit: number,
  ): Promise<MinuteDelta[]> {
    return minuteRows(this.reads, ads, fromMinute, toMinute, limit);
  }

  async top(
    ads: readonly number[] | undefined,
    fromMinute: number,
    toMinute: number,
    by: 'clicks' | 'impressions' | 'ctr',
    limit: number,
  ): Promise<TopRow[]> {
    if (ads !== undefined && ads.length === 0) return [];
    const order =
      by === 'ctr'
        ? 'CASE WHEN sum(impressions) = 0 THEN 0 ELSE sum(clicks) / sum(impressions) END DESC, sum(clicks) DESC'
        : `sum(${by}) DESC`;
    const params: DuckDBValue[] = [BigInt(fromMinute), BigInt(toMinute), limit];
    const types: DuckDBType[] = [BIGINT, BIGINT, INTEGER];
    if (ads !== undefined) {
      params.push(listValue([...ads]));
      types.push(LIST(INTEGER));
    }
    const rows = await this.reads.allTyped<{ ad: number; impressions: number; clicks: number }>(
      `SELECT ad, sum(impressions)::DOUBLE AS impressions, sum(clicks)::DOUBLE AS clicks
       FROM agg_minute WHERE "minute" >= $1 AND "minute" < $2
       ${ads === undefined ? '' : 'AND ad IN (SELECT unnest($4::INTEGER[]))'}
       GROUP BY ad ORDER BY ${order}, ad LIMIT $3`,
      params,
      types,
    );
    return rows.map((r) => ({ ad: r.ad, impressions: Number(r.impressions), clicks: Number(r.clicks) }));
  }
}

/** The columns of dedup_entries, in table order (`ad` last: see the note on the schema). */
const DEDUP_TYPES = [UTINYINT, VARCHAR, BIGINT, DOUBLE, INTEGER];
