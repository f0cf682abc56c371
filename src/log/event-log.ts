/**
 * The event log port: an append-only, durable sequence of opaque records.
 *
 * Offsets are positions in one logical sequence (the file adapter uses byte
 * positions across segments); they only ever grow, and `read(next)` after a
 * `read` continues exactly where the previous one stopped. A consumer that
 * stores `next` together with its own state can resume after a crash without
 * skipping or repeating a record.
 */
export interface LogRecord {
  /** Position of this record; unique and increasing. */
  readonly offset: number;
  readonly payload: Buffer;
}

export interface LogBatch {
  readonly records: LogRecord[];
  /** Offset to pass to the next `read` call. */
  readonly next: number;
}

/** Called once per group commit, for metrics. */
export interface LogFlushObserver {
  onFlush(flush: { records: number; bytes: number; writeSeconds: number; fsyncSeconds: number }): void;
}

/**
 * The consuming side of the log: what the aggregation worker needs. The
 * writer's own instance is one; a follower in another thread or process (the
 * file log's FileLogFollower, a Kafka consumer) is another.
 */
export interface LogReader {
  /** Offset just past the last durable record; readers never see beyond it. */
  durableEnd(): number;
  /** Offset of the first record still kept. */
  startOffset(): number;
  /** Reads durable records from `from` (an offset returned earlier, or startOffset()). */
  read(from: number, maxBytes: number): Promise<LogBatch>;
}

export interface EventLog extends LogReader {
  /**
   * Appends one record. Resolves with its offset only once the record is
   * durable (covered by an fdatasync in the file adapter); many concurrent
   * appends share one fsync. Rejects if the write or the fsync failed; a
   * rejected append may or may not be in the log, but an acknowledged one is.
   */
  append(payload: Buffer): Promise<number>;
  /** Resolves when the log takes appends; rejects with the reason when it does not (for /readyz). */
  check(): Promise<void>;
  /** Flushes pending appends (they resolve), then closes. Later appends reject. */
  close(): Promise<void>;
}
