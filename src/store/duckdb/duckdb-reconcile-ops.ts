import { BIGINT, INTEGER, LIST, listValue } from '@duckdb/node-api';
import {
  ReconcileRaceError,
  type MinuteDelta,
  type ReconcileRepair,
  type ReconcileSnapshot,
  type RetentionResult,
} from '../aggregate-store.js';
import type { DuckDbDatabase } from './duckdb-database.js';
import { COLUMNS, countsOf, mergeStaged, stage } from './duckdb-minute-stage.js';

/*
 * Reconciliation's reads and writes of the DuckDB store, and aggregate
 * retention (DuckDbAggregateStore delegates here).
 */
/**
 * One read transaction on the writing connection: no commit of this store
 * can land between the checkpoints and the counts read here.
 */
export function reconcileSnapshot(
  db: DuckDbDatabase,
  consumerPrefix: string,
  fromMinute: number,
  toMinute: number,
): Promise<ReconcileSnapshot> {
  return db.transaction(async (tx) => {
    const checkpoints = await tx.all<{
      consumer: string;
      log_offset: bigint | number;
      max_event_time: number | null;
    }>(
      `SELECT consumer, log_offset, max_event_time FROM consumer_checkpoints
         WHERE starts_with(consumer, $1) ORDER BY consumer`,
      [consumerPrefix],
    );
    const rowsOf = async (table: string): Promise<MinuteDelta[]> =>
      (
        await tx.all<Record<string, number | bigint>>(
          // INTEGER casts: numbers reach JS without a BigInt per value (an hour of 10,000 ads is 600,000 rows).
          `SELECT ad, "minute"::INTEGER AS "minute", ${COLUMNS.map((c) => `${c}::INTEGER AS ${c}`).join(', ')} FROM ${table}
             WHERE "minute" >= $1 AND "minute" < $2 ORDER BY ad, "minute"`,
          [BigInt(fromMinute), BigInt(toMinute)],
        )
      ).map((row) => ({ ad: Number(row.ad), minute: Number(row.minute), counts: countsOf(row) }));
    const [hold] = await tx.all<{ collector: string; since_ms: number }>(
      'SELECT collector, since_ms FROM spill_holds ORDER BY since_ms LIMIT 1',
    );
    return {
      checkpoints: checkpoints.map((r) => ({
        consumer: r.consumer,
        checkpoint: { offset: Number(r.log_offset), maxEventTime: r.max_event_time ?? undefined },
      })),
      serving: await rowsOf('agg_minute'),
      late: await rowsOf('agg_late'),
      spillHold: hold === undefined ? undefined : { collector: hold.collector, sinceMs: hold.since_ms },
    };
  });
}

/**
 * One transaction on the writing connection, so no aggregation commit runs
 * between the offset check and the writes. `afterCommit` tells the minute
 * index, as replaceCounts does.
 */
export function repairInTransaction(
  db: DuckDbDatabase,
  repair: ReconcileRepair,
  afterCommit: () => void,
): Promise<void> {
  return db.transaction(async (tx) => {
    for (const { consumer, offset } of repair.expectOffsets) {
      const [row] = await tx.all<{ log_offset: bigint | number }>(
        'SELECT log_offset FROM consumer_checkpoints WHERE consumer = $1',
        [consumer],
      );
      const actual = row === undefined ? 0 : Number(row.log_offset);
      if (actual !== offset) throw new ReconcileRaceError(consumer, offset, actual);
    }
    if (repair.replace.length + repair.subtractLate.length === 0) return;
    await stage(tx, [
      [false, repair.replace],
      [true, repair.subtractLate],
    ]);
    if (repair.replace.length > 0) await tx.run(mergeStaged('agg_minute', false, 'replace'));
    if (repair.subtractLate.length > 0) {
      // Each late row read must still hold what is subtracted: else another run folded it first.
      const [held] = await tx.all<{ n: bigint | number }>(
        `SELECT count(*) AS n FROM agg_late JOIN stage_minute s
           ON s.late AND s.ad = agg_late.ad AND s."minute" = agg_late."minute"
         WHERE ${COLUMNS.map((c) => `agg_late.${c} >= s.${c}`).join(' AND ')}`,
      );
      const holding = Number(held?.n ?? 0);
      if (holding !== repair.subtractLate.length) {
        throw new ReconcileRaceError('agg_late', repair.subtractLate.length, holding);
      }
      await tx.run(
        `UPDATE agg_late SET ${COLUMNS.map((c) => `${c} = agg_late.${c} - s.${c}`).join(', ')}
             FROM stage_minute s WHERE s.late AND s.ad = agg_late.ad AND s."minute" = agg_late."minute"`,
      );
      await tx.run(`DELETE FROM agg_late WHERE ${COLUMNS.map((c) => `${c} = 0`).join(' AND ')}`);
    }
    await tx.run('DELETE FROM stage_minute');
  }, afterCommit);
}

export async function lateTotals(
  reads: DuckDbDatabase,
  ads: readonly number[],
  fromMinute: number,
  toMinute: number,
): Promise<number> {
  if (ads.length === 0 || toMinute <= fromMinute) return 0;
  const [row] = await reads.allTyped<{ late: number | null }>(
    `SELECT sum(${COLUMNS.join(' + ')})::DOUBLE AS late FROM agg_late
       WHERE ad IN (SELECT unnest($3::INTEGER[])) AND "minute" >= $1 AND "minute" < $2`,
    [BigInt(fromMinute), BigInt(toMinute), listValue([...ads])],
    [BIGINT, BIGINT, LIST(INTEGER)],
  );
  return row?.late ?? 0;
}

/**
 * Retention: minutes this old are far outside the minute index's window
 * (26 hours; the retention setting is at least days), so only DuckDB holds them.
 */
export function deleteMinutesBefore(db: DuckDbDatabase, minute: number): Promise<RetentionResult> {
  return db.transaction(async (tx) => {
    let rows = 0;
    for (const table of ['agg_minute', 'agg_late']) {
      const [row] = await tx.all<{ n: bigint | number }>(
        `SELECT count(*) AS n FROM ${table} WHERE "minute" < $1`,
        [BigInt(minute)],
      );
      rows += Number(row?.n ?? 0);
      await tx.run(`DELETE FROM ${table} WHERE "minute" < $1`, [BigInt(minute)]);
    }
    return { rows, droppedPartitions: 0 };
  });
}

export async function lateHours(reads: DuckDbDatabase, beforeMinute: number): Promise<number[]> {
  const rows = await reads.all<{ hour: bigint | number }>(
    'SELECT DISTINCT ("minute" // 60) * 60 AS hour FROM agg_late WHERE "minute" < $1 ORDER BY hour',
    [BigInt(beforeMinute)],
  );
  return rows.map((r) => Number(r.hour));
}
