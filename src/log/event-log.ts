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
  /** Set on a record a collector forwarded from its spill log (AppendOptions.origin). */
  readonly origin?: string;
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

/** What one retention pass may delete (see EventLog.applyRetention). */
export interface RetentionPolicy {
  /** The lowest committed offset over every consumer of the log: nothing at or above it is deleted. */
  readonly consumedBelow: number;
  /** Wall clock, ms since the epoch. */
  readonly now: number;
  /** Consumed data whose last record is older than this (ms) is deleted. */
  readonly maxAgeMs: number;
  /** While the log holds more bytes than this, consumed data is deleted oldest first whatever its age. */
  readonly maxBytes: number | undefined;
}

/** What the log holds on disk. */
export interface LogStorage {
  readonly bytes: number;
  readonly segments: number;
}

export interface RetentionResult {
  readonly deletedSegments: number;
  readonly deletedBytes: number;
  /** What the log holds after the pass. */
  readonly storage: LogStorage;
  /** Bytes over `maxBytes` kept because they are not consumed yet; 0 when under the cap or without one. */
  readonly overCapBytes: number;
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

/** What a partitioned log needs to place an event: the log is keyed by ad, hot ads salted by imp. */
export interface PartitionKey {
  readonly ad: number;
  readonly imp: string;
}

/** Where an appended record landed. Offsets are per partition. */
export interface LogPosition {
  readonly partition: number;
  readonly offset: number;
}

/**
 * The appending side of the event log, what a collector needs (SPEC 5). The
 * file log is one partition; the Kafka log has N. `append` resolves only once
 * the record is durable (fsync'd by the file log; acknowledged by every
 * in-sync replica, acks=all, for Kafka); concurrent appends share one write
 * (group commit / one produce request per partition).
 */
/**
 * An append that surely left no record in the log: withdrawn before it was
 * sent (AppendOptions.signal), or refused before sending (no broker). The
 * record may be written elsewhere without risk of a copy.
 */
export class NotAppendedError extends Error {
  override readonly name = 'NotAppendedError';
}

export interface AppendOptions {
  /**
   * Aborted while the record still waits to be sent, the append rejects with
   * a NotAppendedError and the record is surely not in the log (a collector
   * then spills it elsewhere). Once the record is on its way the signal is
   * ignored: the append settles with the backend's answer.
   */
  readonly signal?: AbortSignal;
  /**
   * Where a forwarded record comes from, `<collector id>/<spill offset>`, kept
   * with the record so that a forward replayed after a crash is recognised
   * and skipped (log/spill/).
   */
  readonly origin?: string;
}

export interface EventAppender {
  readonly partitions: number;
  append(payload: Buffer, key: PartitionKey, options?: AppendOptions): Promise<LogPosition>;
  /** Resolves when appends are taken; rejects with the reason when not (for /readyz). */
  check(): Promise<void>;
  /** Flushes pending appends (they resolve or reject), then closes. Later appends reject. */
  close(): Promise<void>;
}

export interface EventLog extends LogReader {
  /**
   * Appends one record. Resolves with its offset only once the record is
   * durable (covered by an fdatasync in the file adapter); many concurrent
   * appends share one fsync. Rejects if the write or the fsync failed; a
   * rejected append may or may not be in the log, but an acknowledged one is.
   */
  append(payload: Buffer): Promise<number>;
  /**
   * Deletes the oldest data that every consumer has committed past and that
   * is older than the policy's age or over its byte cap; never data at or
   * above `consumedBelow`, so no acknowledged event a consumer still needs
   * is lost. `startOffset()` moves up; reads below it reject with a
   * RangeError. One pass at a time (calls queue).
   */
  applyRetention(policy: RetentionPolicy): Promise<RetentionResult>;
  /** Bytes and segment files on disk now (for the gauges; cheap, no I/O). */
  storage(): LogStorage;
  /** Resolves when the log takes appends; rejects with the reason when it does not (for /readyz). */
  check(): Promise<void>;
  /** Flushes pending appends (they resolve), then closes. Later appends reject. */
  close(): Promise<void>;
}
