/**
 * Which ads are hot for this collector now (SPEC 5; see domain/partitioning.ts):
 * an ad is hot while its rate over the last second is above `thresholdPerSecond`,
 * and stays hot `holdMs` after, so a viral ad does not flap between one
 * partition and its spread. Pure apart from the injected clock.
 *
 * The rate over the last second is estimated from two one-second buckets per
 * ad (the current one, and the previous one weighted by how much of it still
 * lies inside the last second): O(1) per event and two numbers per ad. Ads
 * seen neither in the last two seconds nor hot are forgotten by a sweep, so
 * memory follows the ads that get traffic, not every ad ever seen.
 */
export interface HotAdOptions {
  /** Events per second above which an ad is hot; default 1000. */
  readonly thresholdPerSecond?: number;
  /** How long an ad stays hot after its rate fell back; default 10 s. */
  readonly holdMs?: number;
  /** Milliseconds, monotonic; default performance.now. */
  readonly now?: () => number;
}

export const DEFAULT_HOT_THRESHOLD_PER_SECOND = 1000;
export const DEFAULT_HOT_HOLD_MS = 10_000;
const BUCKET_MS = 1000;
const SWEEP_EVERY_MS = 10_000;

interface AdRate {
  bucket: number;
  current: number;
  previous: number;
  hotUntil: number;
}

export class HotAdDetector {
  private readonly threshold: number;
  private readonly holdMs: number;
  private readonly now: () => number;
  private readonly ads = new Map<number, AdRate>();
  private nextSweep: number;

  constructor(options: HotAdOptions = {}) {
    this.threshold = options.thresholdPerSecond ?? DEFAULT_HOT_THRESHOLD_PER_SECOND;
    this.holdMs = options.holdMs ?? DEFAULT_HOT_HOLD_MS;
    this.now = options.now ?? (() => performance.now());
    if (!(this.threshold > 0))
      throw new RangeError(`hot ad threshold must be > 0 events/s, got ${this.threshold}`);
    if (!(this.holdMs >= 0)) throw new RangeError(`hot ad hold must be >= 0 ms, got ${this.holdMs}`);
    this.nextSweep = this.now() + SWEEP_EVERY_MS;
  }

  /** Counts one event of `ad` now and says whether the ad is hot. */
  observe(ad: number): boolean {
    const now = this.now();
    if (now >= this.nextSweep) this.sweep(now);
    const bucket = Math.floor(now / BUCKET_MS);
    let rate = this.ads.get(ad);
    if (rate === undefined) {
      rate = { bucket, current: 0, previous: 0, hotUntil: -Infinity };
      this.ads.set(ad, rate);
    } else if (rate.bucket !== bucket) {
      rate.previous = bucket - rate.bucket === 1 ? rate.current : 0;
      rate.current = 0;
      rate.bucket = bucket;
    }
    rate.current++;
    const inWindow = 1 - (now - bucket * BUCKET_MS) / BUCKET_MS;
    if (rate.current + rate.previous * inWindow > this.threshold) rate.hotUntil = now + this.holdMs;
    return now < rate.hotUntil;
  }

  /** Whether `ad` is hot now, without counting an event. */
  isHot(ad: number): boolean {
    const rate = this.ads.get(ad);
    return rate !== undefined && this.now() < rate.hotUntil;
  }

  /** Ads tracked now (for tests and a gauge). */
  trackedAds(): number {
    return this.ads.size;
  }

  private sweep(now: number): void {
    const bucket = Math.floor(now / BUCKET_MS);
    for (const [ad, rate] of this.ads) {
      if (bucket - rate.bucket >= 2 && now >= rate.hotUntil) this.ads.delete(ad);
    }
    this.nextSweep = now + SWEEP_EVERY_MS;
  }
}
