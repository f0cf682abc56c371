import {
  COUNT_FIELDS,
  emptyCounts,
  isZeroCounts,
  type BucketCounts,
  type CountField,
} from '../aggregate/counts.js';
import { MINUTE_MS } from '../aggregate/minute.js';
import {
  ReconcileRaceError,
  type AggregateStore,
  type MinuteDelta,
  type ReconcileSnapshot,
} from '../store/aggregate-store.js';
import { archiveEvents, type ArchiveSelection } from './archive-events.js';
import { cellKey, dedupContextMs, recompute, type RecomputedEvent } from './recompute.js';

/** Cuts per log partition: the offset below which the archive must hold every row. */
export type Cuts = ReadonlyMap<number, number>;

export interface ReconcileDeps {
  readonly store: Pick<AggregateStore, 'reconcileSnapshot' | 'repair' | 'exclusiveReconcile'>;
  readonly archiveRoot: string;
  /** Where the archive reader's DuckDB spills its sort. */
  readonly tempDir: string;
  /** The aggregation consumers whose counts are reconciled: `serve`, or `<topic>/`. */
  readonly consumerPrefix: string;
  /** The log partition a consumer aggregates (undefined: not an aggregation consumer). */
  readonly partitionOf: (consumer: string) => number | undefined;
  /**
   * Resolves once the archive holds every row below each cut (asks the
   * archiver to flush, runs it, or waits), or rejects saying why it cannot.
   */
  readonly ensureArchived: (cuts: Cuts) => Promise<void>;
  readonly allowedLatenessMs: number;
  readonly clickTtlMs: number;
  readonly now?: () => number;
  /** Test seam: the archive rows of a selection (default: read from the Parquet files). */
  readonly readArchive?: (selection: ArchiveSelection) => AsyncIterable<readonly RecomputedEvent[]>;
}

/** One counter of one (ad, minute) that differed. */
export interface Difference {
  readonly ad: number;
  readonly minute: string;
  readonly field: CountField;
  readonly before: number;
  readonly after: number;
}

export interface HourResult {
  readonly from: string;
  readonly to: string;
  /** Per partition, the offset the archive was read below (the aggregation's checkpoint). */
  readonly cut: Record<string, number>;
  readonly minutesChecked: number;
  readonly repaired: number;
  readonly lateEventsFolded: number;
  readonly archiveRows: number;
  /** Snapshots retaken because a consumer moved during the run. */
  readonly retries: number;
}

export interface ReconcileReport {
  readonly from: string;
  readonly to: string;
  readonly startedAt: string;
  readonly durationMs: number;
  /** (ad, minute) pairs compared: those with counts in the store, the archive or agg_late. */
  readonly minutesChecked: number;
  readonly equal: number;
  readonly repaired: number;
  /** Late events of final minutes, set apart in agg_late, now in the counts. */
  readonly lateEventsFolded: number;
  readonly archiveRows: number;
  /** Every repaired (ad, minute), at most MAX_LISTED (see `repairedListTruncated`). */
  readonly repairedMinutes: readonly { readonly ad: number; readonly minute: string }[];
  readonly repairedListTruncated: boolean;
  /** The largest differences, by |after - before|, at most MAX_DIFFERENCES. */
  readonly largestDifferences: readonly Difference[];
  readonly hours: readonly HourResult[];
}

const HOUR_MINUTES = 60;
const MAX_DIFFERENCES = 20;
export const MAX_LISTED = 10_000;
/** Snapshots taken for one hour before giving up: a consumer that keeps moving is a range not final yet. */
const MAX_ATTEMPTS = 5;

/**
 * In serve the job shares the aggregation thread with the aggregation
 * worker: the comparison of an hour's cells (600,000 for 10,000 ads) gives
 * the event loop back this often, so commits keep their pace meanwhile.
 */
const YIELD_EVERY = 20_000;
const yieldTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const iso = (minute: number): string => new Date(minute * MINUTE_MS).toISOString();

/** The hour-aligned pieces of [fromMinute, toMinute): each is reconciled on its own snapshot. */
export function hoursOf(fromMinute: number, toMinute: number): [number, number][] {
  const pieces: [number, number][] = [];
  for (let start = fromMinute; start < toMinute;) {
    const end = Math.min(toMinute, (Math.floor(start / HOUR_MINUTES) + 1) * HOUR_MINUTES);
    pieces.push([start, end]);
    start = end;
  }
  return pieces;
}

const ZERO: Readonly<BucketCounts> = emptyCounts();

/** The cuts of a snapshot, and the consumers whose offset the repair must find unchanged. */
function cutsOf(
  snapshot: ReconcileSnapshot,
  deps: ReconcileDeps,
  toMinute: number,
): { cuts: Map<number, number>; expect: { consumer: string; offset: number }[] } {
  const cuts = new Map<number, number>();
  const expect: { consumer: string; offset: number }[] = [];
  const hold = snapshot.spillHold?.sinceMs ?? Number.POSITIVE_INFINITY;
  for (const { consumer, checkpoint } of snapshot.checkpoints) {
    const partition = deps.partitionOf(consumer);
    if (partition === undefined) continue;
    cuts.set(partition, checkpoint.offset);
    // Final at the cut (the stream's Watermark.isFinal, the hold included): every later event of
    // the range goes to agg_late, which the repair only subtracts what it read from.
    const max = Math.min(checkpoint.maxEventTime ?? Number.NEGATIVE_INFINITY, hold);
    const final = max - deps.allowedLatenessMs >= toMinute * MINUTE_MS;
    if (!final) expect.push({ consumer, offset: checkpoint.offset });
  }
  return { cuts, expect };
}

interface HourOutcome {
  readonly result: HourResult;
  readonly equal: number;
  readonly repairedRows: readonly MinuteDelta[];
  readonly differences: Difference[];
}

/** Keeps the `limit` largest differences, trimming only now and then. */
function keepLargest(list: Difference[], limit: number): Difference[] {
  const size = (d: Difference): number => Math.abs(d.after - d.before);
  return list.sort((a, b) => size(b) - size(a) || a.ad - b.ad).slice(0, limit);
}

/** Snapshot, coverage, recompute, compare, repair: one hour, retried on a race. */
async function reconcileHour(
  deps: ReconcileDeps,
  fromMinute: number,
  toMinute: number,
): Promise<HourOutcome> {
  const read = deps.readArchive ?? archiveEvents;
  for (let attempt = 0; ; attempt++) {
    const snapshot = await deps.store.reconcileSnapshot(deps.consumerPrefix, fromMinute, toMinute);
    const { cuts, expect } = cutsOf(snapshot, deps, toMinute);
    if (cuts.size === 0 && snapshot.serving.length + snapshot.late.length > 0) {
      // Counts no consumer of this name made: repairing them to the archive's nothing would erase them.
      throw new Error(
        `the store holds counts for ${iso(fromMinute)} but no aggregation consumer named ${deps.consumerPrefix}...: wrong --log topic?`,
      );
    }
    await deps.ensureArchived(cuts);
    let archiveRows = 0;
    const counted = async function* (): AsyncIterable<readonly RecomputedEvent[]> {
      for await (const chunk of read({
        root: deps.archiveRoot,
        cuts,
        fromMinute,
        toMinute,
        contextMs: dedupContextMs(deps),
        tempDir: deps.tempDir,
      })) {
        archiveRows += chunk.length;
        yield chunk;
      }
    };
    const recomputed = await recompute(counted(), { ...deps, fromMinute, toMinute });
    const keyOf = (d: MinuteDelta): number => cellKey(d.ad, d.minute, fromMinute);
    const serving = new Map<number, MinuteDelta>();
    for (const d of snapshot.serving) if (!isZeroCounts(d.counts)) serving.set(keyOf(d), d);
    const replace: MinuteDelta[] = [];
    let differences: Difference[] = [];
    const compare = (ad: number, minute: number, before: BucketCounts, after: BucketCounts): void => {
      let differs = false;
      for (const field of COUNT_FIELDS) {
        if (before[field] === after[field]) continue;
        differs = true;
        differences.push({ ad, minute: iso(minute), field, before: before[field], after: after[field] });
      }
      if (!differs) return;
      replace.push({ ad, minute, counts: after });
      if (differences.length > 10 * MAX_DIFFERENCES) differences = keepLargest(differences, MAX_DIFFERENCES);
    };
    let checked = 0;
    for (const [key, stored] of serving) {
      if (++checked % YIELD_EVERY === 0) await yieldTurn();
      compare(stored.ad, stored.minute, stored.counts, recomputed.get(key)?.counts ?? ZERO);
    }
    for (const [key, computed] of recomputed) {
      if (serving.has(key)) continue;
      if (++checked % YIELD_EVERY === 0) await yieldTurn();
      compare(computed.ad, computed.minute, ZERO, computed.counts);
    }
    // A late row of a minute neither side counts still changes the store (it is subtracted).
    for (const late of snapshot.late) {
      const key = keyOf(late);
      if (!serving.has(key) && !recomputed.has(key)) checked++;
    }
    try {
      await deps.store.repair({ replace, subtractLate: snapshot.late, expectOffsets: expect });
    } catch (err) {
      if (err instanceof ReconcileRaceError && attempt + 1 < MAX_ATTEMPTS) continue;
      throw err;
    }
    let lateEventsFolded = 0;
    for (const row of snapshot.late) for (const f of COUNT_FIELDS) lateEventsFolded += row.counts[f];
    return {
      result: {
        from: iso(fromMinute),
        to: iso(toMinute),
        cut: Object.fromEntries([...cuts].map(([p, offset]) => [String(p), offset])),
        minutesChecked: checked,
        repaired: replace.length,
        lateEventsFolded,
        archiveRows,
        retries: attempt,
      },
      equal: checked - replace.length,
      repairedRows: replace,
      differences: keepLargest(differences, MAX_DIFFERENCES),
    };
  }
}

/**
 * Reconciles [fromMinute, toMinute) (SPEC 4.5), an hour at a time: per hour,
 * in one store read the aggregation consumers' checkpoints (the cut) and the
 * serving and late counts; the archive is made to cover the cut; every
 * (ad, minute) is recomputed from the archive rows below the cut with the
 * stream's rules (recompute.ts); and in one store write the minutes that
 * differ get the recomputed counts and the late rows read are subtracted
 * (their events are in those counts now). A consumer whose minutes were not
 * final at the cut must not have moved meanwhile, or the hour is taken again.
 * An hour at a time bounds what is held in memory to one hour's buckets.
 * The whole run holds the store's reconciliation lock (ReconcileBusyError
 * while another process's run holds it).
 */
export function reconcile(
  deps: ReconcileDeps,
  fromMinute: number,
  toMinute: number,
): Promise<ReconcileReport> {
  // One run at a time over the store, across processes: two runs of one hour could fold its late rows twice.
  return deps.store.exclusiveReconcile(() => reconcileRange(deps, fromMinute, toMinute));
}

async function reconcileRange(
  deps: ReconcileDeps,
  fromMinute: number,
  toMinute: number,
): Promise<ReconcileReport> {
  const now = deps.now ?? Date.now;
  const started = now();
  const hours: HourResult[] = [];
  const repairedMinutes: { ad: number; minute: string }[] = [];
  let differences: Difference[] = [];
  let equal = 0;
  let repairedTotal = 0;
  for (const [from, to] of hoursOf(fromMinute, toMinute)) {
    const outcome = await reconcileHour(deps, from, to);
    hours.push(outcome.result);
    equal += outcome.equal;
    repairedTotal += outcome.repairedRows.length;
    for (const row of outcome.repairedRows) {
      if (repairedMinutes.length < MAX_LISTED) repairedMinutes.push({ ad: row.ad, minute: iso(row.minute) });
    }
    differences = keepLargest([...differences, ...outcome.differences], MAX_DIFFERENCES);
  }
  const sum = (f: (h: HourResult) => number): number => hours.reduce((n, h) => n + f(h), 0);
  return {
    from: iso(fromMinute),
    to: iso(toMinute),
    startedAt: new Date(started).toISOString(),
    durationMs: now() - started,
    minutesChecked: sum((h) => h.minutesChecked),
    equal,
    repaired: repairedTotal,
    lateEventsFolded: sum((h) => h.lateEventsFolded),
    archiveRows: sum((h) => h.archiveRows),
    repairedMinutes: repairedMinutes.sort((a, b) => a.minute.localeCompare(b.minute) || a.ad - b.ad),
    repairedListTruncated: repairedTotal > repairedMinutes.length,
    largestDifferences: differences,
    hours,
  };
}
