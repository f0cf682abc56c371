/**
 * What one analytical request may make the process spend (SPEC 3.5). Every
 * budget is named by a flag of `serve` and `api` (config/serve-config.ts),
 * and every refusal names the budget it hit.
 */
export interface SqlLimits {
  /** Past this, a statement is interrupted and answered 408 (`--sql-timeout`). */
  readonly timeoutMs: number;
  /** Rows of an answer; past it 400 (`--sql-row-limit`). */
  readonly rowLimit: number;
  /**
   * Rows of `minutes`, and rows of `events` for an advertiser, copied into a
   * sandbox before the statement runs; past it 400 (`--sql-materialise-rows`).
   */
  readonly materialiseRows: number;
  /** Statements (and, apart, exports) running at once; past it 503 (`--sql-concurrency`). */
  readonly concurrency: number;
  /** DuckDB's memory_limit of each sandbox and export instance, MiB (`--sql-memory-mb`). */
  readonly memoryMb: number;
  /** DuckDB's threads of each sandbox (`--sql-threads`). */
  readonly threads: number;
}

/**
 * Bytes of one encoded answer (JSON or CSV) held before it is sent: with
 * the row limit, what bounds the request thread's memory for one answer
 * whose rows are wide (long strings). Not a flag: the row limit is the knob.
 */
export const SQL_ANSWER_BYTES = 64 * 1024 * 1024;

export const DEFAULT_SQL_LIMITS: SqlLimits = {
  timeoutMs: 10_000,
  rowLimit: 100_000,
  materialiseRows: 2_000_000,
  concurrency: 2,
  memoryMb: 256,
  threads: 1,
};
