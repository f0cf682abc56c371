import type { ReadEventAt } from '../aggregate-store.js';
import type { DuckDbDatabase } from './duckdb-database.js';

export interface DedupAdMigration {
  /** Live entries (distinct kind, imp, first offset) the migration looked up. */
  readonly entries: number;
  /** Of those, how many got their ad from the log; the others keep ad NULL (any ad). */
  readonly withAd: number;
}

const KIND_NAME = ['impression', 'click'] as const;

/**
 * Gives dedup_entries its `ad` column, for a store written by a release that
 * keyed dedup by imp alone (SPEC 1 now names an impression by (ad, imp)).
 * Returns undefined when the column is already there, so it is run at every
 * start and does its work once.
 *
 * Exact: an entry's first_offset is the log offset of the event that created
 * it, so its ad is that event's ad, read through `readEventAt`. An entry whose
 * event cannot be read (its segment is past retention, or the record is not
 * that entry's event) keeps ad NULL, which DedupIndex matches against every ad
 * (ANY_AD): the old imp-only rule, so no event already judged a duplicate of
 * it can become billable, and replays of committed events decide as before.
 * Only entries live at `horizonMs` are looked up; expired ones are never
 * loaded again and the next expiry deletes them.
 *
 * Crash-safe: the log is read first, then ALTER TABLE and the fill run in one
 * transaction. A kill before its COMMIT leaves the table as it was (no `ad`
 * column), and the next start migrates again from the start.
 */
export async function migrateDedupAds(
  db: DuckDbDatabase,
  horizonMs: number,
  readEventAt: ReadEventAt,
): Promise<DedupAdMigration | undefined> {
  const [column] = await db.all<{ n: bigint | number }>(
    `SELECT count(*) AS n FROM duckdb_columns()
     WHERE schema_name = 'main' AND table_name = 'dedup_entries' AND column_name = 'ad'`,
  );
  if (Number(column?.n ?? 0) > 0) return undefined;
  // One row per entry, in offset order: readEventAt reads the log forward.
  const rows = await db.all<{ kind: number; imp: string; first_offset: bigint | number }>(
    `SELECT DISTINCT kind, imp, first_offset FROM dedup_entries
     WHERE expires_at >= $1 ORDER BY first_offset`,
    [horizonMs],
  );
  const found: { kind: number; imp: string; offset: bigint; ad: number }[] = [];
  for (const row of rows) {
    const offset = Number(row.first_offset);
    const event = await readEventAt(offset);
    if (event === undefined || event.type !== KIND_NAME[row.kind] || event.imp !== row.imp) continue;
    found.push({ kind: row.kind, imp: row.imp, offset: BigInt(offset), ad: event.ad });
  }
  await db.transaction(async (tx) => {
    await tx.run('ALTER TABLE dedup_entries ADD COLUMN ad INTEGER');
    if (found.length === 0) return;
    await tx.run(
      'CREATE TEMP TABLE dedup_ad_found (kind UTINYINT, imp VARCHAR, first_offset BIGINT, ad INTEGER)',
    );
    await tx.append(
      'dedup_ad_found',
      (appender) => {
        for (const f of found) {
          appender.appendUTinyInt(f.kind);
          appender.appendVarchar(f.imp);
          appender.appendBigInt(f.offset);
          appender.appendInteger(f.ad);
          appender.endRow();
        }
      },
      true,
    );
    await tx.run(
      `UPDATE dedup_entries SET ad = f.ad FROM dedup_ad_found f
       WHERE dedup_entries.first_offset = f.first_offset AND dedup_entries.kind = f.kind
         AND dedup_entries.imp = f.imp`,
    );
    await tx.run('DROP TABLE dedup_ad_found');
  });
  return { entries: rows.length, withAd: found.length };
}
