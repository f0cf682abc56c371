import { COUNT_FIELDS, emptyCounts } from '../counts.js';
import type { MinuteDelta } from '../../store/aggregate-store.js';
import type { CatalogStore } from '../../store/catalog-store.js';
import type { OpenHourTransfer } from '../../store/minute-index/hour-blocks.js';

/**
 * The messages between the request thread of `adtally serve` and its
 * aggregation thread (aggregation-thread-main.ts), which owns the DuckDB
 * file, the aggregation worker and every store statement.
 *
 * One MessagePort carries everything the aggregation thread tells, in the
 * order it happened there: the minute index on the request thread stays
 * equal to the store because it applies hour loads and commits in that order.
 */

/** What the aggregation thread is started with (its `workerData`). */
export interface AggregationThreadConfig {
  readonly storePath: string;
  readonly consumer: string;
  readonly allowedLatenessMs: number;
  readonly clickTtlMs: number;
  /** Hours the request thread's minute index keeps (what to load at start). */
  readonly indexWindowHours: number;
  /** Test seam: every aggregation commit blocks the aggregation thread this long. */
  readonly commitStallMs?: number;
  /** The archiver that runs beside the aggregation worker (src/archive/archiver.ts). */
  readonly archive: {
    readonly root: string;
    /** Its checkpoint row (`archive`). */
    readonly consumer: string;
    readonly rollIntervalMs: number;
    readonly rollBytes: number;
  };
  /** Reconciliation, run on this thread next to the store it repairs (reconcile/reconcile-service.ts). */
  readonly reconcile?: ReconcileThreadConfig;
}

/** Where reconciliation writes its reports, and when it runs by itself (it reads `archive.root`). */
export interface ReconcileThreadConfig {
  readonly dataDir: string;
  /** An hour is reconciled once closed plus this long (ms); undefined: no auto runs. */
  readonly graceMs: number | undefined;
}

/** The store calls the request thread makes; `catalog.*` are CatalogStore's methods. */
export type CatalogCall = Exclude<keyof CatalogStore, 'close'>;
/** `minuteRows` replies with the rows packed (packDeltas), its buffer transferred. */
export type StoreCall =
  | `catalog.${CatalogCall}`
  | 'series'
  | 'top'
  | 'lateTotals'
  | 'reconcile'
  /** Aggregate retention: AggregateStore.deleteMinutesBefore. */
  | 'deleteMinutesBefore'
  | 'minuteRows'
  | 'check'
  | 'archive-check'
  /** Closes the archive's files now; answers the archiver's committed offset once past the log's durable end. */
  | 'archive-flush'
  | 'metrics'
  | 'stop';

export type ToThread =
  | { readonly type: 'call'; readonly id: number; readonly call: StoreCall; readonly args: unknown[] }
  | { readonly type: 'commit-soon' };

export interface SerializedError {
  readonly name: string;
  readonly message: string;
}

export type FromThread =
  | {
      readonly type: 'ready';
      readonly committedOffset: number;
      readonly watermark: number | undefined;
      readonly archiveCommittedOffset: number;
    }
  /** The archiver committed its position: log retention must keep everything from here. */
  | { readonly type: 'archive-committed'; readonly offset: number }
  | { readonly type: 'start-failed'; readonly error: SerializedError }
  | { readonly type: 'reply'; readonly id: number; readonly value: unknown }
  | { readonly type: 'reply'; readonly id: number; readonly error: SerializedError }
  | { readonly type: 'index-live'; readonly hour: number }
  | { readonly type: 'index-hour'; readonly hour: number; readonly block: OpenHourTransfer }
  | { readonly type: 'index-loaded'; readonly hours: number; readonly ms: number; readonly failure?: string }
  | {
      readonly type: 'committed';
      readonly offset: number;
      /** The committed watermark (ms) after this commit. */
      readonly watermark: number | undefined;
      readonly deltas: Float64Array;
    }
  | { readonly type: 'replaced'; readonly rows: Float64Array }
  /** How many hours hold agg_late rows, told at start and after every change: 0 spares the queries a call. */
  | { readonly type: 'late-hours'; readonly hours: number };

export function serializeError(err: unknown): SerializedError {
  return err instanceof Error
    ? { name: err.name, message: err.message }
    : { name: 'Error', message: String(err) };
}

/** An error from the aggregation thread, rebuilt on the request thread. */
export class AggregationThreadError extends Error {
  constructor(error: SerializedError) {
    super(error.message);
    this.name = error.name;
  }
}

/** Numbers per row of a packed array: ad, minute, then the counters in COUNT_FIELDS order. */
export const PACKED_STRIDE = 2 + COUNT_FIELDS.length;
const STRIDE = PACKED_STRIDE;

/**
 * Deltas as one Float64Array (ad, minute, then the counters in COUNT_FIELDS
 * order), whose buffer is transferred: no object graph to clone per commit.
 */
export function packDeltas(deltas: readonly MinuteDelta[]): Float64Array {
  const packed = new Float64Array(deltas.length * STRIDE);
  let at = 0;
  for (const delta of deltas) {
    packed[at++] = delta.ad;
    packed[at++] = delta.minute;
    for (const field of COUNT_FIELDS) packed[at++] = delta.counts[field];
  }
  return packed;
}

export function unpackDeltas(packed: Float64Array): MinuteDelta[] {
  const deltas: MinuteDelta[] = new Array<MinuteDelta>(packed.length / STRIDE);
  for (let i = 0, at = 0; at < packed.length; i++) {
    const ad = packed[at++]!;
    const minute = packed[at++]!;
    const counts = emptyCounts();
    for (const field of COUNT_FIELDS) counts[field] = packed[at++]!;
    deltas[i] = { ad, minute, counts };
  }
  return deltas;
}
