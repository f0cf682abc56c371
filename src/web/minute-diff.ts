import { COUNT_FIELDS, emptyCounts, isZeroCounts, type BucketCounts } from '../aggregate/counts.js';
import type { MinuteDelta } from '../store/aggregate-store.js';

/**
 * What changed between two reads of the same recent (ad, minute) cells: the
 * live stream of `adtally api`, whose commits happen in the workers'
 * processes, finds them this way (src/cli/api-stream.ts). Cells below the
 * window's start are forgotten; a cell that disappears (retention,
 * reconciliation) counts as going to zero.
 */
export class MinuteDiff {
  private last = new Map<string, MinuteDelta>();

  /** The first read only sets the baseline: counts that were there before anyone watched are no change. */
  private primed = false;

  /**
   * Replaces the baseline with `cells` (all cells at or after `fromMinute`)
   * and returns the changes. Cells of an ad `isNew` says was not read before
   * (a new watcher's) only join the baseline: their counts are no change.
   */
  update(
    cells: readonly MinuteDelta[],
    fromMinute: number,
    isNew: (ad: number) => boolean = () => false,
  ): MinuteDelta[] {
    const next = new Map<string, MinuteDelta>();
    const changes: MinuteDelta[] = [];
    for (const cell of cells) {
      const key = `${cell.ad}:${cell.minute}`;
      next.set(key, cell);
      if (isNew(cell.ad)) continue;
      const before = this.last.get(key)?.counts ?? emptyCounts();
      const delta = difference(cell.counts, before);
      if (!isZeroCounts(delta)) changes.push({ ad: cell.ad, minute: cell.minute, counts: delta });
    }
    for (const [key, old] of this.last) {
      if (old.minute >= fromMinute && !next.has(key)) {
        changes.push({ ad: old.ad, minute: old.minute, counts: difference(emptyCounts(), old.counts) });
      }
    }
    this.last = next;
    const first = !this.primed;
    this.primed = true;
    return first ? [] : changes;
  }

  isPrimed(): boolean {
    return this.primed;
  }

  /** Forgets the baseline (nobody watches): the next update only primes again. */
  reset(): void {
    this.last = new Map();
    this.primed = false;
  }
}

function difference(a: Readonly<BucketCounts>, b: Readonly<BucketCounts>): BucketCounts {
  const out = emptyCounts();
  for (const field of COUNT_FIELDS) out[field] = a[field] - b[field];
  return out;
}
