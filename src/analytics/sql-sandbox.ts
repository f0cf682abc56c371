import {
  DuckDBInstance,
  StatementType,
  type DuckDBConnection,
  type DuckDBDataChunk,
  type DuckDBResult,
} from '@duckdb/node-api';
import type { AnalyticsRange } from './analytics-range.js';
import { AnalyticsRefusal, duckDbReason, isInterrupt, refused } from './analytics-refusal.js';
import { QuerySlots } from './query-slots.js';
import { materialiseViews, type AnalyticsScope, type ViewSources } from './sandbox-views.js';
import type { SqlLimits } from './sql-limits.js';
import { sqlString } from '../archive/archive-scan.js';
import { ALLOCATOR_FLUSH } from './export.js';

/** One statement's result: its columns and the data chunks DuckDB produced, within the row limit. */
export interface SqlResult {
  readonly columns: readonly string[];
  /** The same names made unique (`x`, `x_1`), for formats that need that (Parquet). */
  readonly uniqueColumns: readonly string[];
  /** DuckDB type of each column, as SQL (`BIGINT`, `STRUCT("a" INTEGER)`). */
  readonly types: readonly string[];
  readonly rowCount: number;
}

/**
 * What a caller does with the result chunks as they come (encodes them):
 * a chunk is valid only during the call unless kept.
 */
export type ChunkSink = (chunk: DuckDBDataChunk, result: SqlResult) => void;

const STATEMENT_NAMES = Object.fromEntries(
  Object.entries(StatementType)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [v, k]),
) as Record<number, string>;

/** How long past the interrupt a statement may take to stop before the caller is answered anyway. */
const INTERRUPT_GRACE_MS = 250;

/** DuckDB settings of every sandbox: bounded memory and threads, no spill file, no extension. */
export function sandboxConfig(limits: SqlLimits): Record<string, string> {
  return {
    memory_limit: `${limits.memoryMb}MB`,
    threads: String(limits.threads),
    // No spilling: past memory_limit a statement fails (400) rather than filling a disk.
    temp_directory: '',
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    // Archive files read through the sandbox are not kept in its buffer pool after the statement.
    enable_external_file_cache: 'false',
    ...ALLOCATOR_FLUSH,
  };
}

/**
 * Runs analytical statements (SPEC 3.5), each in a fresh in-memory DuckDB
 * instance that holds nothing but the caller's views (sandbox-views.ts):
 * no other table, no store file, no other advertiser's rows.
 *
 * The sandbox is then locked, in this order, before the statement is even
 * parsed: `allowed_directories` (the archive root for the admin, nothing
 * for an advertiser), `enable_external_access = false` (no other file, no
 * network, no ATTACH, no extension), `lock_configuration = true` (no SET,
 * PRAGMA or RESET can undo any of it). The statement must then be exactly
 * one (DuckDB's own `extractStatements`) SELECT (the prepared statement's
 * type, so COPY ... TO, CREATE, INSERT, ATTACH, CALL, PRAGMA are refused
 * whatever their spelling): the only check made on the SQL, and it is
 * DuckDB's parser that makes it, not ours.
 *
 * Limits: `slots` statements at once (503 past it), a time limit that
 * interrupts the statement (408), a row limit (400), DuckDB's memory_limit
 * and threads per sandbox (a statement past memory_limit fails, 400).
 */
export class SqlSandbox {
  private readonly slots: QuerySlots;

  constructor(
    private readonly sources: ViewSources,
    private readonly limits: SqlLimits,
  ) {
    this.slots = new QuerySlots(limits.concurrency);
  }

  /**
   * Runs `sql` over the scope's views of `range`, handing each result chunk
   * to `sink`; resolves with the result's shape once every row was handed.
   * Rejects with an AnalyticsRefusal for anything the caller can change.
   */
  async run(scope: AnalyticsScope, sql: string, range: AnalyticsRange, sink: ChunkSink): Promise<SqlResult> {
    const release = this.slots.tryTake();
    if (release === undefined) {
      throw new AnalyticsRefusal(
        503,
        'busy',
        `${this.limits.concurrency} statements are running (--sql-concurrency); retry shortly`,
      );
    }
    let instance: DuckDBInstance | undefined;
    let connection: DuckDBConnection | undefined;
    let timedOut = false;
    let deadlineTimer: NodeJS.Timeout | undefined;
    let graceTimer: NodeJS.Timeout | undefined;
    let stickyTimer: NodeJS.Timeout | undefined;
    const started = performance.now();
    const onTime = (): void => {
      if (timedOut) throw timeout(this.limits.timeoutMs);
    };
    const work = (async () => {
      instance = await DuckDBInstance.create(':memory:', sandboxConfig(this.limits));
      connection = await instance.connect();
      const open = connection;
      // An interrupt only stops the statement running when it comes: past the deadline it is
      // repeated until the work ends, so no statement begun later (between two of ours) runs on.
      deadlineTimer = setTimeout(
        () => {
          timedOut = true;
          open.interrupt();
          stickyTimer = setInterval(() => open.interrupt(), 100);
        },
        Math.max(0, this.limits.timeoutMs - (performance.now() - started)),
      );
      await materialiseViews(open, this.sources, scope, range, this.limits.materialiseRows);
      onTime();
      await lock(open, scope, this.sources.archiveRoot);
      onTime();
      return execute(open, sql, this.limits.rowLimit, sink);
    })();
    // The slot and the instance are given back only once DuckDB has really stopped.
    const settled = work.finally(() => {
      clearTimeout(deadlineTimer);
      clearTimeout(graceTimer);
      clearInterval(stickyTimer);
      connection?.closeSync();
      instance?.closeSync();
      release();
    });
    // A statement that does not stop at the interrupt (one long native call) is answered 408 anyway.
    const late = new Promise<never>((_, reject) => {
      graceTimer = setTimeout(
        () => reject(timeout(this.limits.timeoutMs)),
        this.limits.timeoutMs + INTERRUPT_GRACE_MS,
      );
    });
    settled.catch(() => undefined);
    try {
      return await Promise.race([settled, late]);
    } catch (err) {
      if (err instanceof AnalyticsRefusal && err.status !== 400) throw err;
      if (timedOut || isInterrupt(err)) throw timeout(this.limits.timeoutMs);
      throw err;
    }
  }
}

function timeout(ms: number): AnalyticsRefusal {
  return new AnalyticsRefusal(
    408,
    'sql_timeout',
    `the statement ran past the time limit of ${ms} ms (--sql-timeout) and was interrupted`,
  );
}

async function lock(connection: DuckDBConnection, scope: AnalyticsScope, archiveRoot: string): Promise<void> {
  const allowed = scope.kind === 'admin' ? [sqlString(`${archiveRoot.replace(/\/+$/, '')}/`)] : [];
  await connection.run(`SET allowed_directories = [${allowed.join(', ')}]`);
  await connection.run('SET enable_external_access = false');
  await connection.run('SET lock_configuration = true');
}

/** Checks that `sql` is one SELECT, runs it, and streams its chunks to `sink` up to the row limit. */
async function execute(
  connection: DuckDBConnection,
  sql: string,
  rowLimit: number,
  sink: ChunkSink,
): Promise<SqlResult> {
  let result: DuckDBResult;
  try {
    const statements = await connection.extractStatements(sql);
    if (statements.count !== 1) {
      throw refused(`send exactly one statement; this text holds ${statements.count}`);
    }
    const prepared = await statements.prepare(0);
    if (prepared.statementType !== StatementType.SELECT) {
      const kind = STATEMENT_NAMES[prepared.statementType] ?? String(prepared.statementType);
      throw refused(`only a SELECT statement is allowed (read-only); this one is ${kind}`);
    }
    if (prepared.parameterCount > 0)
      throw refused('the statement has parameters ($1, ?): none can be bound here');
    result = await prepared.stream();
  } catch (err) {
    throw asRefusal(err);
  }
  const columns = result.columnNames();
  const shape = {
    columns,
    uniqueColumns: result.deduplicatedColumnNames(),
    types: result.columnTypes().map((t) => t.toString()),
  };
  let rowCount = 0;
  for (;;) {
    let chunk: DuckDBDataChunk | null;
    try {
      chunk = await result.fetchChunk();
    } catch (err) {
      throw asRefusal(err);
    }
    if (chunk === null || chunk.rowCount === 0) break;
    rowCount += chunk.rowCount;
    if (rowCount > rowLimit) {
      throw new AnalyticsRefusal(
        400,
        'too_many_rows',
        `the answer has more than ${rowLimit} rows (the row limit, --sql-row-limit); aggregate or add a LIMIT`,
      );
    }
    sink(chunk, { ...shape, rowCount });
  }
  return { ...shape, rowCount };
}

/** DuckDB's reason for refusing or failing the caller's statement, as a 400 (interrupts stay themselves). */
function asRefusal(err: unknown): unknown {
  if (err instanceof AnalyticsRefusal || isInterrupt(err)) return err;
  return refused(duckDbReason(err));
}
