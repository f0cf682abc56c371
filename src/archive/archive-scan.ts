import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ARCHIVE_COLUMNS } from './archive-schema.js';
import { archiveGlob, parseArchiveFileName, parseHourDir } from './archive-layout.js';

/** A SQL string literal: quotes doubled. */
export function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * True when the archive at `root` holds at least one final file. DuckDB's
 * read_parquet fails on a glob that matches nothing, so readers ask first
 * and use `emptyArchiveSql()` for an empty archive. Stops at the first file.
 */
export async function hasArchiveFiles(root: string): Promise<boolean> {
  const list = async (dir: string): Promise<string[]> => readdir(dir).catch(() => []);
  for (const dt of await list(root)) {
    for (const hour of await list(join(root, dt))) {
      if (parseHourDir(dt, hour) === undefined) continue;
      const names = await list(join(root, dt, hour));
      if (names.some((name) => parseArchiveFileName(name) !== undefined)) return true;
    }
  }
  return false;
}

/**
 * The whole archive as one relation: every final file (never a `.tmp`), with
 * the Hive directories added back as `dt` (DATE) and `hour` (BIGINT), which
 * DuckDB uses to skip hours a filter on them excludes.
 */
export function archiveScanSql(root: string): string {
  return `read_parquet(${sqlString(archiveGlob(root))}, hive_partitioning = true)`;
}

/** A relation with the archive's columns and no rows, for an archive that holds no file yet. */
export function emptyArchiveSql(): string {
  const columns = ARCHIVE_COLUMNS.map(([column, type]) => `CAST(NULL AS ${type}) AS "${column}"`);
  return `(SELECT ${columns.join(', ')}, CAST(NULL AS DATE) AS dt, CAST(NULL AS BIGINT) AS hour WHERE false)`;
}
