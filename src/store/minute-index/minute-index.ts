import type { MinuteDelta, SeriesRow } from '../aggregate-store.js';
import { OpenHour, SealedHour, type HourBlock } from './hour-blocks.js';
import { MINUTES_PER_HOUR } from './packed-hour.js';
import { SeriesSums } from './series-sums.js';

const HOUR_MS = 3_600_000;
/**
 * A sealed hour taking more changes than this in one batch is unsealed first
 * (one decode of every ad) rather than re-packed per change (a decode and an
 * encode of that ad's block each time): a replay through old hours.
 */
const UNSEAL_AFTER_CHANGES = 64;

export interface MinuteIndexOptions {
  /** Hours kept, the current one included: 26 covers any 24-hour range that ends now, with an hour to spare. */
  readonly windowHours: number;
  /** An hour is packed once it ended this long ago (counts for it rarely arrive after that). */
  readonly sealAfterMs: number;
  readonly now: () => number;
  /** Told once when the index stops serving (a failed load, a count beyond its range). */
  readonly onFailure?: (err: Error) => void;
}

/**
 * The hours of a window starting at `windowStartHour` that may hold stored
 * rows, newest first, when the store held none at or after `liveFromHour`.
 * Hours beyond two windows ahead (a stored minute far in the future) are never
 * loaded. Pure, so the thread that reads the store and the thread that holds
 * the index agree on it.
 */
export function storedHoursToLoad(
  liveFromHour: number,
  windowStartHour: number,
  windowHours: number,
): number[] {
  const hours: number[] = [];
  if (!Number.isFinite(liveFromHour)) return hours;
  const newest = Math.min(liveFromHour - 1, windowStartHour + 2 * windowHours);
  for (let h = newest; h >= windowStartHour; h--) hours.push(h);
  return hours;
}

/** The oldest hour of a window of `windowHours` hours at `nowMs`. */
export function windowStartHourAt(nowMs: number, windowHours: number): number {
  return Math.floor(nowMs / HOUR_MS) - (windowHours - 1);
}

export const DEFAULT_MINUTE_INDEX: Omit<MinuteIndexOptions, 'now' | 'onFailure'> = {
  windowHours: 26,
  sealAfterMs: 120_000,
};

/**
 * An in-memory copy of the recent serving counts (the last `windowHours`
 * hours of the store's per-minute rows), so a series query over them is
 * answered without a store round trip. It is derived data: nothing is
 * written from it, it is rebuilt at every start, and its owner changes it
 * in the same step as the store (see DuckDbAggregateStore), so it always
 * equals what a store query would return.
 *
 * An hour is *complete* here when every stored count of it is in the index:
 * either the hour had no stored rows when the index started (`startLive`)
 * and every change since was applied, or it was loaded (`loadHour`) and every
 * change since was applied. Changes to hours that are not complete are
 * skipped (a later load reads them from the store); queries touching one go
 * to the store.
 */
export class MinuteIndex {
  private readonly hours = new Map<number, HourBlock>();
  private readonly loaded = new Set<number>();
  /** Hours at or after this one held no stored rows when the index started. */
  private liveFromHour = Number.POSITIVE_INFINITY;
  private lastMaintainedMinute = Number.NEGATIVE_INFINITY;
  private failure: Error | undefined;
  /** Reused by every `series` call (they run one at a time: the index is synchronous). */
  private readonly sums = new SeriesSums();

  constructor(private readonly options: MinuteIndexOptions) {}

  /** The oldest hour kept at `now`. */
  windowStartHour(): number {
    return windowStartHourAt(this.options.now(), this.options.windowHours);
  }

  /** Declares that the store holds no row of `hour` or later: those hours are complete from here on. */
  startLive(hour: number): void {
    this.liveFromHour = hour;
  }

  /**
   * The hours of the window that may hold stored rows and must be loaded,
   * newest first. Hours beyond two windows ahead of the clock (a stored
   * minute far in the future) are never loaded: queries there read the store.
   */
  hoursToLoad(): number[] {
    return storedHoursToLoad(this.liveFromHour, this.windowStartHour(), this.options.windowHours);
  }

  private isComplete(hour: number): boolean {
    return hour >= this.windowStartHour() && (hour >= this.liveFromHour || this.loaded.has(hour));
  }

  /** The stored counts of `hour`, read while no change could interleave; the hour is complete from now on. */
  loadHour(hour: number, block: OpenHour): void {
    if (this.failure !== undefined || hour < this.windowStartHour()) return;
    this.hours.set(hour, this.isSealable(hour) ? block.seal() : block);
    this.loaded.add(hour);
  }

  /** True when [fromMinute, toMinute) lies in complete hours: `series` may answer it. */
  covers(fromMinute: number, toMinute: number): boolean {
    if (this.failure !== undefined || toMinute <= fromMinute) return false;
    const last = Math.floor((toMinute - 1) / MINUTES_PER_HOUR);
    for (let h = Math.floor(fromMinute / MINUTES_PER_HOUR); h <= last; h++) {
      if (!this.isComplete(h)) return false;
    }
    return true;
  }

  /** Adds committed deltas (the store's `commit`). */
  add(deltas: readonly MinuteDelta[]): void {
    this.change(deltas, false);
  }

  /** Writes committed replacements over the counts (the store's `replaceCounts`). */
  replace(rows: readonly MinuteDelta[]): void {
    this.change(rows, true);
  }

  private change(rows: readonly MinuteDelta[], replace: boolean): void {
    if (this.failure !== undefined) return;
    try {
      this.maintain();
      const changesPerHour = new Map<number, number>();
      for (const row of rows) {
        const hour = Math.floor(row.minute / MINUTES_PER_HOUR);
        changesPerHour.set(hour, (changesPerHour.get(hour) ?? 0) + 1);
      }
      for (const [hour, changes] of changesPerHour) {
        const block = this.hours.get(hour);
        if (block instanceof SealedHour && changes > UNSEAL_AFTER_CHANGES)
          this.hours.set(hour, block.unseal());
      }
      for (const row of rows) {
        const hour = Math.floor(row.minute / MINUTES_PER_HOUR);
        if (!this.isComplete(hour)) continue;
        let block = this.hours.get(hour);
        if (block === undefined) {
          block = new OpenHour();
          this.hours.set(hour, block);
        }
        block.change(row.ad, row.minute - hour * MINUTES_PER_HOUR, row.counts, replace);
      }
    } catch (err) {
      // A half-applied change would make the index disagree with the store: stop serving from it.
      this.fail(err);
    }
  }

  /** Counts per bucket over `ads`, as AggregateStore.series returns them; only when `covers` said so. */
  series(ads: readonly number[], fromMinute: number, toMinute: number, bucketMinutes: number): SeriesRow[] {
    this.maintain();
    const sums = this.sums.reset(fromMinute, toMinute, bucketMinutes);
    const unique = ads.length > 1 ? [...new Set(ads)] : ads; // an ad listed twice counts once, as in SQL's IN
    const last = Math.floor((toMinute - 1) / MINUTES_PER_HOUR);
    for (let h = Math.floor(fromMinute / MINUTES_PER_HOUR); h <= last; h++) {
      const block = this.hours.get(h);
      if (block === undefined) continue;
      for (const ad of unique) block.addInto(ad, h * MINUTES_PER_HOUR, sums);
    }
    return sums.rows();
  }

  /**
   * Drops hours that left the window and packs hours that ended
   * `sealAfterMs` ago. Does its work at most once a minute; called from
   * `change` and `series`, so the index needs no timer of its own.
   */
  maintain(): void {
    const minute = Math.floor(this.options.now() / 60_000);
    if (minute === this.lastMaintainedMinute) return;
    this.lastMaintainedMinute = minute;
    const windowStart = this.windowStartHour();
    for (const [hour, block] of this.hours) {
      if (hour < windowStart) this.hours.delete(hour);
      else if (block instanceof OpenHour && this.isSealable(hour)) this.hours.set(hour, block.seal());
    }
    for (const hour of this.loaded) if (hour < windowStart) this.loaded.delete(hour);
  }

  private isSealable(hour: number): boolean {
    return (hour + 1) * HOUR_MS + this.options.sealAfterMs <= this.options.now();
  }

  /** Stops serving from the index for good (until the next start): every query goes to the store. */
  fail(err: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = err instanceof Error ? err : new Error(String(err));
    this.hours.clear();
    this.loaded.clear();
    this.options.onFailure?.(this.failure);
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  /** How many hours hold counts (for the start-up log line and tests). */
  get heldHours(): number {
    return this.hours.size;
  }
}
