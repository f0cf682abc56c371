import { COUNT_FIELDS, emptyCounts } from '../../aggregate/counts.js';
import {
  ReconcileBusyError,
  ReconcileRaceError,
  type MinuteDelta,
  type ReconcileRepair,
  type ReconcileSnapshot,
  type RetentionResult,
} from '../aggregate-store.js';
import { COLUMNS, type DayPartitions } from './postgres-aggregate-schema.js';
import type { PgTransaction, PostgresDatabase } from './postgres-database.js';

/*
 * Reconciliation's reads and writes of the PostgreSQL store, and aggregate
 * retention (PostgresAggregateStore delegates here).
 */

function rowsOf(rows: Record<string, number>[]): MinuteDelta[] {
  return rows.map((row) => {
    const counts = emptyCounts();
    for (let f = 0; f < COUNT_FIELDS.length; f++) counts[COUNT_FIELDS[f]!] = Number(row[COLUMNS[f]!]);
    return { ad: Number(row.ad), minute: Number(row.minute), counts };
  });
}

/**
 * REPEATABLE READ: every statement of the transaction reads the one snapshot
 * taken at its first, so the checkpoints and the counts belong together.
 */
export function reconcileSnapshot(
  db: PostgresDatabase,
  consumerPrefix: string,
  fromMinute: number,
  toMinute: number,
): Promise<ReconcileSnapshot> {
  return db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const checkpoints = await tx.query<{
      consumer: string;
      log_offset: number;
      max_event_time: number | null;
    }>(
      `SELECT consumer, log_offset::float8 AS log_offset, max_event_time FROM consumer_checkpoints
       WHERE left(consumer, length($1)) = $1 ORDER BY consumer`,
      [consumerPrefix],
    );
    const select = (table: string): Promise<Record<string, number>[]> =>
      tx.query(
        `SELECT ad, minute, ${COLUMNS.join(', ')} FROM ${table}
         WHERE minute >= $1::int AND minute < $2::int ORDER BY ad, minute`,
        [fromMinute, toMinute],
      );
    const serving = rowsOf(await select('agg_minute'));
    const late = rowsOf(await select('agg_late'));
    const [hold] = await tx.query<{ collector: string; since_ms: number }>(
      'SELECT collector, since_ms FROM spill_holds ORDER BY since_ms LIMIT 1',
    );
    return {
      checkpoints: checkpoints.map((r) => ({
        consumer: r.consumer,
        checkpoint: { offset: r.log_offset, maxEventTime: r.max_event_time ?? undefined },
      })),
      serving,
      late,
      spillHold: hold === undefined ? undefined : { collector: hold.collector, sinceMs: hold.since_ms },
    };
  });
}

/** Parallel arrays for `unnest`, rows sorted by (ad, minute) like every other writer's, so locks are taken in one order. */
function columnsOf(rows: readonly MinuteDelta[]): number[][] {
  const sorted = [...rows].sort((a, b) => a.ad - b.ad || a.minute - b.minute);
  return [
    sorted.map((r) => r.ad),
    sorted.map((r) => r.minute),
    ...COUNT_FIELDS.map((f) => sorted.map((r) => r.counts[f])),
  ];
}

const SUBTRACT_LATE = `UPDATE agg_late AS t SET ${COLUMNS.map((c) => `${c} = t.${c} - s.${c}`).join(', ')}
  FROM unnest(${['ad', 'minute', ...COLUMNS].map((_, i) => `$${i + 1}::int[]`).join(', ')})
    AS s(ad, minute, ${COLUMNS.join(', ')})
  WHERE t.ad = s.ad AND t.minute = s.minute AND ${COLUMNS.map((c) => `t.${c} >= s.${c}`).join(' AND ')}
  RETURNING 1`;

/**
 * The counts are written first and the offsets checked last, under FOR
 * UPDATE of the checkpoint rows: a worker's commit locks its agg_minute rows
 * and then its checkpoint row, in that order too, so the two never deadlock;
 * one that committed first is seen here (and the repair refused), one that
 * comes later waits and adds its events on top of the repaired counts.
 */
export async function repairInTransaction(
  db: PostgresDatabase,
  partitions: DayPartitions,
  replaceSql: string,
  repair: ReconcileRepair,
): Promise<void> {
  await partitions.writing(
    repair.replace.map((r) => r.minute),
    () => repairNow(db, replaceSql, repair),
  );
}

async function repairNow(db: PostgresDatabase, replaceSql: string, repair: ReconcileRepair): Promise<void> {
  await db.transaction(async (tx: PgTransaction) => {
    if (repair.replace.length > 0) await tx.query(replaceSql, columnsOf(repair.replace));
    if (repair.subtractLate.length > 0) {
      // Each late row read must still hold what is subtracted (the row lock makes a concurrent
      // run's subtraction wait and then re-check): else another run folded it first.
      const subtracted = await tx.query(SUBTRACT_LATE, columnsOf(repair.subtractLate));
      if (subtracted.length !== repair.subtractLate.length) {
        throw new ReconcileRaceError('agg_late', repair.subtractLate.length, subtracted.length);
      }
      await tx.query(`DELETE FROM agg_late WHERE ${COLUMNS.map((c) => `${c} = 0`).join(' AND ')}`);
    }
    for (const { consumer, offset } of repair.expectOffsets) {
      const [row] = await tx.query<{ log_offset: number }>(
        'SELECT log_offset::float8 AS log_offset FROM consumer_checkpoints WHERE consumer = $1 FOR UPDATE',
        [consumer],
      );
      const actual = row?.log_offset ?? 0;
      if (actual !== offset) throw new ReconcileRaceError(consumer, offset, actual);
    }
  });
}

export async function lateTotals(
  db: PostgresDatabase,
  ads: readonly number[],
  fromMinute: number,
  toMinute: number,
): Promise<number> {
  if (ads.length === 0 || toMinute <= fromMinute) return 0;
  const [row] = await db.query<{ late: number | null }>(
    `SELECT sum(${COLUMNS.join(' + ')})::float8 AS late FROM agg_late
     WHERE ad = ANY($1::int[]) AND minute >= $2::int AND minute < $3::int`,
    [ads, fromMinute, toMinute],
    'adtally_late_totals',
  );
  return row?.late ?? 0;
}

/**
 * Day partitions wholly before `minute` are dropped (one catalog change, no
 * dead rows to vacuum); the rows of the day it falls in, and of agg_late,
 * are deleted.
 */
export async function deleteMinutesBefore(
  db: PostgresDatabase,
  partitions: DayPartitions,
  minute: number,
): Promise<RetentionResult> {
  const dropped = await partitions.dropBefore(minute);
  const deleted = await db.transaction(async (tx) => {
    const minutes = await tx.query<{ n: number }>(
      'WITH d AS (DELETE FROM agg_minute WHERE minute < $1::int RETURNING 1) SELECT count(*)::float8 AS n FROM d',
      [minute],
    );
    const late = await tx.query<{ n: number }>(
      'WITH d AS (DELETE FROM agg_late WHERE minute < $1::int RETURNING 1) SELECT count(*)::float8 AS n FROM d',
      [minute],
    );
    return (minutes[0]?.n ?? 0) + (late[0]?.n ?? 0);
  });
  return { rows: deleted + dropped.rows, droppedPartitions: dropped.partitions };
}

export async function lateHours(db: PostgresDatabase, beforeMinute: number): Promise<number[]> {
  const rows = await db.query<{ hour: number }>(
    'SELECT DISTINCT (minute / 60) * 60 AS hour FROM agg_late WHERE minute < $1::int ORDER BY hour',
    [beforeMinute],
  );
  return rows.map((r) => Number(r.hour));
}

/** The advisory lock key every reconciliation of this database takes. */
const RECONCILE_LOCK_SQL = "SELECT pg_try_advisory_lock(hashtext('adtally.reconcile')) AS locked";

/**
 * One reconciliation at a time over the database, whichever process runs it:
 * a session advisory lock on a connection of its own (not the pool's, whose
 * connections serve other statements meanwhile), held for the whole run.
 */
export async function exclusiveReconcile<T>(db: PostgresDatabase, work: () => Promise<T>): Promise<T> {
  const client = db.newClient('adtally-reconcile');
  await client.connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>(RECONCILE_LOCK_SQL);
    if (rows[0]?.locked !== true) throw new ReconcileBusyError();
    return await work();
  } finally {
    // Ending the session releases the lock.
    await client.end().catch(() => undefined);
  }
}
