import type { CheckpointRow, SpillHold } from '../aggregate-store.js';
import type { DuckDbDatabase } from './duckdb-database.js';

/*
 * Who owns each consumer (partition) and where the cluster stands, in the
 * DuckDB store: owner epochs (consumer_owners), the checkpoints as the query
 * side lists them, and collectors' spill holds. The same rules as
 * postgres-aggregate-store.ts; the AggregateStore contract suite holds both.
 */

/** Bumps the consumer's owner epoch (1 on its first claim) and returns it. */
export async function claimOwnership(db: DuckDbDatabase, consumer: string): Promise<number> {
  let epoch = 0;
  await db.transaction(async (tx) => {
    const [row] = await tx.all<{ epoch: bigint | number }>(
      `INSERT INTO consumer_owners VALUES ($1, 1)
         ON CONFLICT (consumer) DO UPDATE SET epoch = consumer_owners.epoch + 1
         RETURNING epoch`,
      [consumer],
    );
    epoch = Number(row!.epoch);
  });
  return epoch;
}

export async function listCheckpoints(reads: DuckDbDatabase, prefix: string): Promise<CheckpointRow[]> {
  const rows = await reads.all<{
    consumer: string;
    log_offset: bigint | number;
    max_event_time: number | null;
    committed_at: number | null;
  }>(
    'SELECT consumer, log_offset, max_event_time, committed_at FROM consumer_checkpoints WHERE starts_with(consumer, $1) ORDER BY consumer',
    [prefix],
  );
  return rows.map((r) => ({
    consumer: r.consumer,
    checkpoint: { offset: Number(r.log_offset), maxEventTime: r.max_event_time ?? undefined },
    committedAt: r.committed_at ?? 0,
  }));
}

export async function setSpillHold(
  db: DuckDbDatabase,
  collector: string,
  sinceMs: number | undefined,
): Promise<void> {
  if (sinceMs === undefined) {
    await db.run('DELETE FROM spill_holds WHERE collector = $1', [collector]);
    return;
  }
  await db.run(
    `INSERT INTO spill_holds VALUES ($1, $2)
       ON CONFLICT (collector) DO UPDATE SET since_ms = excluded.since_ms`,
    [collector, sinceMs],
  );
}

export async function spillHold(reads: DuckDbDatabase): Promise<SpillHold | undefined> {
  const [row] = await reads.all<{ collector: string; since_ms: number }>(
    'SELECT collector, since_ms FROM spill_holds ORDER BY since_ms LIMIT 1',
  );
  return row === undefined ? undefined : { collector: row.collector, sinceMs: row.since_ms };
}
