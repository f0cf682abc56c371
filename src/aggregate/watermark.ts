import { MINUTE_MS, minuteStartMs } from './minute.js';

export interface WatermarkOptions {
  /** How far behind the largest event time seen an event may still arrive (ms, >= 0). */
  readonly allowedLatenessMs: number;
  /** The largest event time seen before a restart, if any. */
  readonly maxEventTime?: number | undefined;
}

/**
 * Event-time progress of one stream: the largest event time seen minus the
 * allowed lateness. It only moves forward, whatever the order of events, and
 * it is derived from events alone (never the clock), so a replay of the same
 * log from the same restored `maxEventTime` reproduces it exactly.
 */
export class Watermark {
  readonly allowedLatenessMs: number;
  #max: number;
  /** Event time the watermark must not pass, plus the lateness (see `hold`); Infinity when none. */
  #holdMax = Infinity;

  constructor(options: WatermarkOptions) {
    const { allowedLatenessMs, maxEventTime } = options;
    if (!Number.isFinite(allowedLatenessMs) || allowedLatenessMs < 0) {
      throw new RangeError(`allowedLatenessMs must be a finite number >= 0, got ${allowedLatenessMs}`);
    }
    if (maxEventTime !== undefined && !Number.isFinite(maxEventTime)) {
      throw new RangeError(`maxEventTime must be finite, got ${maxEventTime}`);
    }
    this.allowedLatenessMs = allowedLatenessMs;
    // -Infinity stands for "nothing seen yet" so observe() is one comparison.
    this.#max = maxEventTime ?? -Infinity;
  }

  /** Takes an event time into account; an older time than the largest seen changes nothing. */
  observe(eventTimeMs: number): void {
    if (eventTimeMs > this.#max) this.#max = eventTimeMs;
  }

  /**
   * Keeps the watermark from passing `sinceMs - allowedLateness` while events
   * with times from `sinceMs` on are known to be on their way (a collector's
   * spill log, not forwarded yet): so they are not late when they arrive.
   * Not persisted: the holder tells it again. Undefined lifts the hold.
   */
  hold(sinceMs: number | undefined): void {
    this.#holdMax = sinceMs ?? Infinity;
  }

  /** The largest event time the watermark is made of now: the largest seen, or the hold when lower. */
  #effectiveMax(): number {
    return this.#max < this.#holdMax ? this.#max : this.#holdMax;
  }

  /** The largest event time observed (or restored), undefined before any. */
  maxEventTime(): number | undefined {
    return this.#max === -Infinity ? undefined : this.#max;
  }

  /** The watermark (ms), undefined before any event. */
  value(): number | undefined {
    return this.#max === -Infinity ? undefined : this.#effectiveMax() - this.allowedLatenessMs;
  }

  /** True when an event with this time is behind the watermark. Ask before observing the event. */
  isLate(eventTimeMs: number): boolean {
    return eventTimeMs < this.#effectiveMax() - this.allowedLatenessMs;
  }

  /**
   * True once the watermark has reached the end of the minute, that is once an
   * event at or after `end + allowedLateness` was seen (SPEC 4.4). An event of a
   * final minute may still arrive (it is then late), so final means "complete
   * unless late data or reconciliation", not immutable.
   */
  isFinal(minute: number): boolean {
    return this.#effectiveMax() - this.allowedLatenessMs >= minuteStartMs(minute) + MINUTE_MS;
  }
}
