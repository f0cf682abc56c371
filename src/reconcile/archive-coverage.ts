import type { AggregateStore } from '../store/aggregate-store.js';
import type { Cuts } from './reconcile.js';

/**
 * The archive does not hold every row below the cut: reconciliation would
 * recompute from less than the stream counted, and must not repair.
 */
export class ArchiveBehindError extends Error {
  readonly retriable = true;

  constructor(
    readonly partition: number,
    readonly archived: number | undefined,
    readonly cut: number,
  ) {
    super(
      archived === undefined
        ? `the archive has no committed position for partition ${partition} (the aggregation is at offset ${cut}): is the archiver running?`
        : `the archive of partition ${partition} is at offset ${archived}, behind the aggregation at ${cut}`,
    );
    this.name = 'ArchiveBehindError';
  }
}

export interface CoverageOptions {
  /** The archiver's consumer checkpoint of a partition: `archive` in serve, `archive/<topic>/<p>` in workers. */
  readonly consumerOf: (partition: number) => string;
  /** How long to wait for the archiver to catch up before giving up (0: look once). */
  readonly waitMs: number;
  readonly pollMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `ensureArchived` from the archiver's committed positions in the store
 * (design decision 1: the archiver commits its position only after its files
 * are renamed and their directory fsync'd, so a position is a promise that
 * every row below it is readable): resolves once each partition's archive
 * position is at or past its cut, polling up to `waitMs`, else rejects with
 * ArchiveBehindError.
 */
export function archiveCheckpointCoverage(
  store: Pick<AggregateStore, 'loadCheckpoint'>,
  options: CoverageOptions,
): (cuts: Cuts) => Promise<void> {
  return async (cuts) => {
    const deadline = Date.now() + options.waitMs;
    for (const [partition, cut] of cuts) {
      if (cut === 0) continue;
      for (;;) {
        const archived = (await store.loadCheckpoint(options.consumerOf(partition)))?.offset;
        if (archived !== undefined && archived >= cut) break;
        if (Date.now() >= deadline) throw new ArchiveBehindError(partition, archived, cut);
        await sleep(options.pollMs ?? 500);
      }
    }
  };
}
