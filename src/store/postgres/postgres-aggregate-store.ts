import { COUNT_FIELDS, addCounts, emptyCounts } from '../../aggregate/counts.js';
import { ANY_AD, type DedupEntry } from '../../aggregate/dedup-index.js';
import {
  FencedCommitError,
  type AggregateStore,
  type AggregationCommit,
  type CheckpointRow,
  type SpillHold,
  type ConsumerCheckpoint,
  type MinuteDelta,
  type ReconcileRepair,
  type ReconcileSnapshot,
  type RetentionResult,
  type SeriesRow,
  type TopRow,
} from '../aggregate-store.js';
import {
  AGGREGATE_SCHEMA,
  COLUMNS,
  DayPartitions,
  dayOf,
  MINUTES_PER_DAY,
} from './postgres-aggregate-schema.js';
import type { PgTransaction, PostgresDatabase } from './postgres-database.js';
import {
  deleteMinutesBefore,
  exclusiveReconcile,
  lateHours,
  lateTotals,
  reconcileSnapshot,
  repairInTransaction,
} from './postgres-reconcile-ops.js';

const KIND_CODE = { impression: 0, click: 1 } as const;
const KIND_NAME = ['impression', 'click'] as const;

/**
 * `INSERT ... SELECT FROM unnest(arrays)`: one statement and one round trip
 * for any number of rows, the arrays bound as parameters. `add` merges into
 * the stored counts (so workers of several log partitions, or of one hot ad
 * spread over several, add up in one row), `replace` overwrites them.
 */
function upsertSql(table: string, mode: 'add' | 'replace'): string {
  const arrays = ['ad', 'minute', ...COLUMNS].map((_, i) => `$${i + 1}::int[]`).join(', ');
  const set = COLUMNS.map((c) => (mode === 'add' ? `${c} = t.${c} + excluded.${c}` : `${c} = excluded.${c}`));
  return `INSERT INTO ${table} AS t (ad, minute, ${COLUMNS.join(', ')})
    SELECT * FROM unnest(${arrays})
    ON CONFLICT (ad, minute) DO UPDATE SET ${set.join(', ')}`;
}

const ADD_MINUTES = upsertSql('agg_minute', 'add');
const ADD_LATE = upsertSql('agg_late', 'add');
const REPLACE_MINUTES = upsertSql('agg_minute', 'replace');

const UPSERT_DEDUP = `INSERT INTO dedup_entries AS d (kind, ad, imp, first_offset, expires_at)
  SELECT * FROM unnest($1::smallint[], $2::int[], $3::text[], $4::bigint[], $5::float8[])
  ON CONFLICT (kind, ad, imp) DO UPDATE SET expires_at = greatest(d.expires_at, excluded.expires_at)`;

const UPSERT_CHECKPOINT = `INSERT INTO consumer_checkpoints (consumer, log_offset, max_event_time, committed_at)
  VALUES ($1, $2, $3, $4)
  ON CONFLICT (consumer) DO UPDATE SET log_offset = excluded.log_offset,
    max_event_time = excluded.max_event_time, committed_at = excluded.committed_at`;

/*
 * Series come back as one text value, `minute,c1,...,c12,minute,...`, not as
 * one row per bucket: a 24 h minute series is 1,440 rows of 13 columns, and
 * `pg` spent 5.2-5.8 ms of CPU per query parsing them as rows on this
 * machine, against 1.8-2.4 ms for one string split here
 * (docs/POSTGRES-STORE.md). Packing as bytea (int4send) cost the server 3 ms
 * more than this. Buckets are put in order here: the scan gives them in
 * (nearly) that order, which the sort checks in linear time.
 */
const RECORD = `concat_ws(',', bucket, ${COLUMNS.join(', ')})`;
/** Any ads, any bucket: summed in SQL (bigint sums, exact below 2^53 as numbers). */
const SERIES = `SELECT string_agg(${RECORD}, ',') AS packed
  FROM (SELECT (minute / $4::int) * $4::int AS bucket, ${COLUMNS.map((c) => `sum(${c}) AS ${c}`).join(', ')}
        FROM agg_minute WHERE ad = ANY($1::int[]) AND minute >= $2::int AND minute < $3::int
        GROUP BY bucket) buckets`;
/**
 * One ad by the minute, the common query (a 24 h chart): its cells as
 * stored, no aggregate, read from the covering primary key alone where the
 * pages are all-visible (an index-only scan: ~15 index pages for a day
 * instead of 1,440 heap pages).
 */
const SERIES_ONE_AD_MINUTES = `SELECT string_agg(${RECORD}, ',') AS packed
  FROM (SELECT minute AS bucket, ${COLUMNS.join(', ')}
        FROM agg_minute WHERE ad = $1::int AND minute >= $2::int AND minute < $3::int) cells`;
const RECORD_FIELDS = 1 + COLUMNS.length;

function unpackSeries(packed: string | null): SeriesRow[] {
  if (packed === null) return [];
  const values = packed.split(',');
  const rows: SeriesRow[] = new Array<SeriesRow>(values.length / RECORD_FIELDS);
  for (let r = 0, at = 0; at < values.length; r++, at += RECORD_FIELDS) {
    const counts = emptyCounts();
    for (let f = 0; f < COUNT_FIELDS.length; f++) counts[COUNT_FIELDS[f]!] = Number(values[at + 1 + f]);
    rows[r] = { minute: Number(values[at]), counts };
  }
  return rows.sort((a, b) => a.minute - b.minute);
}

/**
 * Deltas merged per (ad, minute) and sorted by it. One INSERT ... ON CONFLICT
 * may not touch a row twice, and every transaction locking rows in the same
 * order is what keeps two workers adding to the same hot rows from
 * deadlocking.
 */
function mergedColumns(deltas: readonly MinuteDelta[]): number[][] {
  const byCell = new Map<string, MinuteDelta>();
  for (const d of deltas) {
    const key = `${d.ad}:${d.minute}`;
    const known = byCell.get(key);
    if (known === undefined) byCell.set(key, d);
    else
      byCell.set(key, {
        ad: d.ad,
        minute: d.minute,
        counts: addCounts(addCounts(emptyCounts(), known.counts), d.counts),
      });
  }
  const rows = [...byCell.values()].sort((a, b) => a.ad - b.ad || a.minute - b.minute);
  return [
    rows.map((r) => r.ad),
    rows.map((r) => r.minute),
    ...COUNT_FIELDS.map((f) => rows.map((r) => r.counts[f])),
  ];
}

/** Dedup entries merged per (kind, ad, imp) (first offset, latest expiry) and sorted, for the same reasons. */
function dedupColumns(entries: readonly DedupEntry[]): unknown[][] {
  const byKey = new Map<string, DedupEntry>();
  for (const e of entries) {
    const key = `${e.kind}\u0000${e.ad}\u0000${e.imp}`;
    const known = byKey.get(key);
    byKey.set(
      key,
      known === undefined
        ? e
        : {
            ...known,
            firstOffset: Math.min(known.firstOffset, e.firstOffset),
            expiresAt: Math.max(known.expiresAt, e.expiresAt),
          },
    );
  }
  const rows = [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
  return [
    rows.map((e) => KIND_CODE[e.kind]),
    rows.map((e) => e.ad),
    rows.map((e) => e.imp),
    rows.map((e) => e.firstOffset),
    rows.map((e) => e.expiresAt),
  ];
}

/**
 * Aggregates, dedup entries, checkpoints and owner epochs in PostgreSQL, for
 * workers in several processes (`adtally worker`) and the query side
 * (`adtally api`). Every commit is one transaction on one pooled connection.
 */
export class PostgresAggregateStore implements AggregateStore {
  private constructor(
    private readonly db: PostgresDatabase,
    private readonly partitions: DayPartitions,
  ) {}

  /**
   * Creates the schema if missing (safe when several processes open the same
   * database at once) and the partitions of today and tomorrow (UTC), so the
   * midnight rollover rarely has to create one in the commit path.
   */
  static async create(db: PostgresDatabase): Promise<PostgresAggregateStore> {
    await db.applySchema(AGGREGATE_SCHEMA);
    const partitions = new DayPartitions(db);
    await partitions.load();
    const today = dayOf(Math.floor(Date.now() / 60_000));
    await partitions.ensureFor([today * MINUTES_PER_DAY, (today + 1) * MINUTES_PER_DAY]);
    return new PostgresAggregateStore(db, partitions);
  }

  async loadCheckpoint(consumer: string): Promise<ConsumerCheckpoint | undefined> {
    const [row] = await this.db.query<{ log_offset: number; max_event_time: number | null }>(
      'SELECT log_offset::float8 AS log_offset, max_event_time FROM consumer_checkpoints WHERE consumer = $1',
      [consumer],
    );
    if (row === undefined) return undefined;
    return { offset: row.log_offset, maxEventTime: row.max_event_time ?? undefined };
  }

  /** An upsert: the row lock it takes orders it against any commit checking the epoch (FOR UPDATE). */
  async claimOwnership(consumer: string): Promise<number> {
    const [row] = await this.db.query<{ epoch: number }>(
      `INSERT INTO consumer_owners AS o (consumer, epoch) VALUES ($1, 1)
       ON CONFLICT (consumer) DO UPDATE SET epoch = o.epoch + 1
       RETURNING epoch::float8 AS epoch`,
      [consumer],
    );
    return row!.epoch;
  }

  async listCheckpoints(prefix: string): Promise<CheckpointRow[]> {
    // left() = prefix, not LIKE: a prefix may hold % or _.
    const rows = await this.db.query<{
      consumer: string;
      log_offset: number;
      max_event_time: number | null;
      committed_at: number;
    }>(
      `SELECT consumer, log_offset::float8 AS log_offset, max_event_time, committed_at
       FROM consumer_checkpoints WHERE left(consumer, length($1)) = $1 ORDER BY consumer`,
      [prefix],
    );
    return rows.map((r) => ({
      consumer: r.consumer,
      checkpoint: { offset: r.log_offset, maxEventTime: r.max_event_time ?? undefined },
      committedAt: r.committed_at,
    }));
  }

  async setSpillHold(collector: string, sinceMs: number | undefined): Promise<void> {
    if (sinceMs === undefined) {
      await this.db.query('DELETE FROM spill_holds WHERE collector = $1', [collector]);
      return;
    }
    await this.db.query(
      `INSERT INTO spill_holds VALUES ($1, $2)
       ON CONFLICT (collector) DO UPDATE SET since_ms = excluded.since_ms`,
      [collector, sinceMs],
    );
  }

  async spillHold(): Promise<SpillHold | undefined> {
    const [row] = await this.db.query<{ collector: string; since_ms: number }>(
      'SELECT collector, since_ms FROM spill_holds ORDER BY since_ms LIMIT 1',
    );
    return row === undefined ? undefined : { collector: row.collector, sinceMs: row.since_ms };
  }

  /** No release of this store ever wrote entries without their ad: nothing to migrate, `readEventAt` unused. */
  async loadDedup(horizonMs: number): Promise<DedupEntry[]> {
    const rows = await this.db.query<{
      kind: number;
      ad: number;
      imp: string;
      first_offset: number;
      expires_at: number;
    }>(
      `SELECT kind, ad, imp, first_offset::float8 AS first_offset, expires_at
       FROM dedup_entries WHERE expires_at >= $1`,
      [horizonMs],
    );
    return rows.map((r) => ({
      kind: KIND_NAME[r.kind] ?? 'click',
      ad: r.ad === 0 ? ANY_AD : r.ad,
      imp: r.imp,
      firstOffset: r.first_offset,
      expiresAt: r.expires_at,
    }));
  }

  /**
   * One transaction. With an epoch, the owner row is locked first
   * (`FOR UPDATE`): a claim by another worker waits for this commit, or this
   * commit sees the claim and is refused before anything is written.
   */
  async commit(consumer: string, commit: AggregationCommit): Promise<void> {
    await this.partitions.writing(withNextDay(commit.deltas.map((d) => d.minute)), () =>
      this.commitNow(consumer, commit),
    );
  }

  private async commitNow(consumer: string, commit: AggregationCommit): Promise<void> {
    await this.db.transaction(async (tx) => {
      if (commit.epoch !== undefined) await checkEpoch(tx, consumer, commit.epoch);
      if (commit.deltas.length > 0)
        await tx.query(ADD_MINUTES, mergedColumns(commit.deltas), 'adtally_add_minutes');
      if (commit.lateDeltas.length > 0)
        await tx.query(ADD_LATE, mergedColumns(commit.lateDeltas), 'adtally_add_late');
      if (commit.dedupAdded.length > 0) {
        await tx.query(UPSERT_DEDUP, dedupColumns(commit.dedupAdded), 'adtally_upsert_dedup');
      }
      if (commit.dedupExpireBefore !== undefined) {
        await tx.query('DELETE FROM dedup_entries WHERE expires_at < $1', [commit.dedupExpireBefore]);
      }
      await tx.query(
        UPSERT_CHECKPOINT,
        [consumer, commit.checkpoint.offset, commit.checkpoint.maxEventTime ?? null, Date.now()],
        'adtally_upsert_checkpoint',
      );
    });
  }

  async replaceCounts(rows: readonly MinuteDelta[]): Promise<void> {
    if (rows.length === 0) return;
    await this.partitions.writing(
      rows.map((r) => r.minute),
      () => this.db.transaction((tx) => tx.query(REPLACE_MINUTES, mergedColumns(rows))),
    );
  }

  reconcileSnapshot(
    consumerPrefix: string,
    fromMinute: number,
    toMinute: number,
  ): Promise<ReconcileSnapshot> {
    return reconcileSnapshot(this.db, consumerPrefix, fromMinute, toMinute);
  }

  repair(repair: ReconcileRepair): Promise<void> {
    return repairInTransaction(this.db, this.partitions, REPLACE_MINUTES, repair);
  }

  exclusiveReconcile<T>(work: () => Promise<T>): Promise<T> {
    return exclusiveReconcile(this.db, work);
  }

  lateTotals(ads: readonly number[], fromMinute: number, toMinute: number): Promise<number> {
    return lateTotals(this.db, ads, fromMinute, toMinute);
  }

  deleteMinutesBefore(minute: number): Promise<RetentionResult> {
    return deleteMinutesBefore(this.db, this.partitions, minute);
  }

  lateHours(beforeMinute: number): Promise<number[]> {
    return lateHours(this.db, beforeMinute);
  }

  async series(
    ads: readonly number[],
    fromMinute: number,
    toMinute: number,
    bucketMinutes: number,
  ): Promise<SeriesRow[]> {
    if (ads.length === 0 || toMinute <= fromMinute) return [];
    const oneAdMinutes = ads.length === 1 && bucketMinutes === 1;
    const [row] = oneAdMinutes
      ? await this.db.query<{ packed: string | null }>(
          SERIES_ONE_AD_MINUTES,
          [ads[0], fromMinute, toMinute],
          'adtally_series_one_ad_minutes',
        )
      : await this.db.query<{ packed: string | null }>(
          SERIES,
          [ads, fromMinute, toMinute, bucketMinutes],
          'adtally_series',
        );
    return unpackSeries(row?.packed ?? null);
  }

  /** Counters as stored (int4, parsed to numbers by pg); one scan of the day partitions in range. */
  async minuteRows(
    ads: readonly number[] | undefined,
    fromMinute: number,
    toMinute: number,
    limit: number,
  ): Promise<MinuteDelta[]> {
    if ((ads !== undefined && ads.length === 0) || toMinute <= fromMinute || limit <= 0) return [];
    const values: unknown[] = [fromMinute, toMinute, limit];
    if (ads !== undefined) values.push(ads);
    const rows = await this.db.query<Record<string, number>>(
      `SELECT ad, minute, ${COLUMNS.join(', ')} FROM agg_minute
       WHERE minute >= $1::int AND minute < $2::int ${ads === undefined ? '' : 'AND ad = ANY($4::int[])'}
       ORDER BY minute, ad LIMIT $3`,
      values,
    );
    return rows.map((row) => {
      const counts = emptyCounts();
      for (let i = 0; i < COUNT_FIELDS.length; i++) counts[COUNT_FIELDS[i]!] = Number(row[COLUMNS[i]!]);
      return { ad: Number(row.ad), minute: Number(row.minute), counts };
    });
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
        ? 'CASE WHEN sum(impressions) = 0 THEN 0 ELSE sum(clicks)::float8 / sum(impressions) END DESC, sum(clicks) DESC'
        : `sum(${by}) DESC`;
    const values: unknown[] = [fromMinute, toMinute, limit];
    if (ads !== undefined) values.push(ads);
    return this.db.query<TopRow>(
      `SELECT ad, sum(impressions)::float8 AS impressions, sum(clicks)::float8 AS clicks
       FROM agg_minute WHERE minute >= $1::int AND minute < $2::int
       ${ads === undefined ? '' : 'AND ad = ANY($4::int[])'}
       GROUP BY ad ORDER BY ${order}, ad LIMIT $3`,
      values,
    );
  }
}

/**
 * The minutes plus one a day after the latest: tomorrow's partition is
 * created during today, outside the midnight rush of every worker's first
 * commit of the new day.
 */
function withNextDay(minutes: number[]): number[] {
  if (minutes.length === 0) return minutes;
  let latest = minutes[0]!;
  for (const m of minutes) if (m > latest) latest = m;
  minutes.push(latest + MINUTES_PER_DAY);
  return minutes;
}

async function checkEpoch(tx: PgTransaction, consumer: string, epoch: number): Promise<void> {
  const [owner] = await tx.query<{ epoch: number }>(
    'SELECT epoch::float8 AS epoch FROM consumer_owners WHERE consumer = $1 FOR UPDATE',
    [consumer],
    'adtally_check_epoch',
  );
  const current = owner?.epoch ?? 0;
  if (current !== epoch) throw new FencedCommitError(consumer, epoch, current);
}
