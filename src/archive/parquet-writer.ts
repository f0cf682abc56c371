import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  BIGINT,
  DuckDBInstance,
  INTEGER,
  TIMESTAMP,
  VARCHAR,
  timestampValue,
  type DuckDBConnection,
  type DuckDBType,
  type DuckDBVector,
} from '@duckdb/node-api';
import { fsyncDirectory } from '../log/file/segment-files.js';
import { appendColumns } from '../store/duckdb/column-appender.js';
import { archiveTmpName } from './archive-layout.js';
import { sqlString } from './archive-scan.js';
import { ARCHIVE_COLUMNS, archiveTableDdl, type ArchivedEvent } from './archive-schema.js';

const STAGE = 'archive_stage';
/** Rows staged between two turns of the event loop: about 10 ms of work. */
const SLICE_ROWS = 4096;
const yieldTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const TYPE_OF: Record<(typeof ARCHIVE_COLUMNS)[number][1], DuckDBType> = {
  INTEGER,
  BIGINT,
  VARCHAR,
  TIMESTAMP,
};
const STAGE_TYPES: readonly DuckDBType[] = ARCHIVE_COLUMNS.map(([, type]) => TYPE_OF[type]);

/** Microseconds since the epoch, what DuckDB's TIMESTAMP holds, from ms. */
const micros = (ms: number): ReturnType<typeof timestampValue> =>
  timestampValue(BigInt(Math.round(ms)) * 1000n);
const bigintOrNull = (value: number | undefined): bigint | null =>
  value === undefined ? null : BigInt(value);

/** Sets row `row` of the staging chunk's columns, in ARCHIVE_COLUMNS order, to event `e`. */
function fillRow(vectors: readonly DuckDBVector[], row: number, e: ArchivedEvent): void {
  // Each vector's item type follows its column's DuckDB type, which the line below matches by position.
  const set = (column: number, value: unknown): void => vectors[column]!.setItem(row, value as never);
  set(0, e.partition);
  set(1, BigInt(e.offset));
  set(2, e.type);
  set(3, e.outcome);
  set(4, micros(e.eventTime));
  set(5, micros(e.receivedAt));
  set(6, BigInt(Math.round(e.tokenTs)));
  set(7, BigInt(e.ad));
  set(8, bigintOrNull(e.campaign));
  set(9, bigintOrNull(e.advertiser));
  set(10, e.imp);
  set(11, e.ipHash.toString('hex'));
  set(12, e.userAgent);
  set(13, e.source);
  set(14, e.origin ?? null);
}

export interface WrittenFile {
  readonly path: string;
  readonly rows: number;
  readonly bytes: number;
}

/**
 * Writes batches of archive rows to Parquet files through an in-memory DuckDB
 * instance of its own (never the serving store's file: the archive must not
 * take the store's write lock or its memory). One writer writes one file at a
 * time; callers serialise.
 *
 * Crash safety of one file (docs/BATCH.md, "The raw archive"): the rows go
 * to `.<final>.tmp` (archiveTmpName) by `COPY ... TO`, the file is fsync'd, renamed to its
 * final name, and the directory is fsync'd. A name without `.tmp` is thus
 * always a whole, durable file; a crash leaves at most a `.tmp`, which the
 * archiver deletes at its next start.
 *
 * Writes are queued: the archivers of several partitions (`adtally worker`)
 * may share one writer, and its staging table holds one file's rows at a time.
 */
export class ParquetArchiveWriter {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {}

  /** `threads` bounds what DuckDB spends per COPY (the archiver shares its machine with the click path). */
  static async open(options: { threads?: number; memoryLimit?: string } = {}): Promise<ParquetArchiveWriter> {
    const instance = await DuckDBInstance.create(':memory:', {
      threads: String(options.threads ?? 1),
      memory_limit: options.memoryLimit ?? '256MB',
    });
    const connection = await instance.connect();
    await connection.run(archiveTableDdl(STAGE));
    return new ParquetArchiveWriter(instance, connection);
  }

  /**
   * Writes `rows` (ordered by offset, as the archiver buffers them) to
   * `finalPath`, durably and atomically, creating its directories. A file of
   * that name already there is replaced (the rerun of an uncommitted range).
   */
  write(finalPath: string, rows: readonly ArchivedEvent[]): Promise<WrittenFile> {
    const work = (): Promise<WrittenFile> => this.writeNow(finalPath, rows);
    const result = this.queue.then(work, work);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async writeNow(finalPath: string, rows: readonly ArchivedEvent[]): Promise<WrittenFile> {
    if (rows.length === 0) throw new RangeError('an archive file needs at least one row');
    const tmp = join(dirname(finalPath), archiveTmpName(basename(finalPath)));
    await ensureDir(dirname(finalPath));
    try {
      const appender = await this.connection.createAppender(STAGE);
      try {
        // Slices, with a turn of the event loop between them: staging is synchronous, and in serve
        // this thread also runs the aggregation worker, whose commits must not wait a whole file
        // (200,000 rows staged at once blocked the loop ~700 ms; in slices, the longest block was
        // ~75 ms). One flush at the end: a flush per slice doubled the time of a file.
        for (let start = 0; start < rows.length; start += SLICE_ROWS) {
          const count = Math.min(SLICE_ROWS, rows.length - start);
          appendColumns(appender, STAGE_TYPES, count, (vectors, row, index) =>
            fillRow(vectors, row, rows[start + index]!),
          );
          if (start + count < rows.length) await yieldTurn();
        }
        appender.flushSync();
      } finally {
        appender.closeSync();
      }
      // ORDER BY: the file's rows in log order whatever DuckDB's scan order.
      await this.connection.run(
        `COPY (SELECT * FROM ${STAGE} ORDER BY "offset") TO ${sqlString(tmp)} (FORMAT parquet, COMPRESSION zstd)`,
      );
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    } finally {
      await this.connection.run(`DELETE FROM ${STAGE}`);
    }
    const handle = await open(tmp, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    const { size } = await stat(tmp);
    await rename(tmp, finalPath);
    await fsyncDirectory(dirname(finalPath));
    return { path: finalPath, rows: rows.length, bytes: size };
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

/**
 * mkdir -p, and each directory it created made durable in its parent: a
 * file renamed into a directory whose own entry was lost in a power cut
 * would be lost with it.
 */
async function ensureDir(dir: string): Promise<void> {
  const created = await mkdir(dir, { recursive: true });
  if (created === undefined) return;
  // `created` is the first directory made; fsync the parent of each one down to `dir`.
  let current = dir;
  const parents: string[] = [];
  while (current.length >= created.length) {
    parents.push(dirname(current));
    current = dirname(current);
  }
  for (const parent of parents) await fsyncDirectory(parent);
}
