import { COUNT_FIELDS, type CountField } from '../aggregate/counts.js';
import { MINUTE_MS, minuteOf } from '../aggregate/minute.js';

/** Why an event is not billable (SPEC 3.1), or `billable`. */
export type Expectation = 'billable' | 'duplicate' | 'bot' | 'prefetch' | 'bad_signature' | 'expired';

const FIELD_OF: Readonly<Record<'impression' | 'click', Readonly<Record<Expectation, CountField>>>> = {
  impression: {
    billable: 'impressions',
    duplicate: 'impressionDuplicate',
    bot: 'impressionBot',
    prefetch: 'impressionPrefetch',
    bad_signature: 'impressionBadSignature',
    expired: 'impressionExpired',
  },
  click: {
    billable: 'clicks',
    duplicate: 'clickDuplicate',
    bot: 'clickBot',
    prefetch: 'clickPrefetch',
    bad_signature: 'clickBadSignature',
    expired: 'clickExpired',
  },
};

export function fieldOf(type: 'impression' | 'click', expectation: Expectation): CountField {
  return FIELD_OF[type][expectation];
}

const FIELD_INDEX = new Map(COUNT_FIELDS.map((f, i) => [f, i]));
const newCounters = (): Int32Array => new Int32Array(COUNT_FIELDS.length);

/**
 * Per ad: counters per minute of events surely in it, and of events
 * straddling its end; and the same for events whose fate is unknown (no
 * answer: the server may or may not have recorded them), which may count
 * once or not at all.
 */
interface AdTruth {
  readonly within: Map<number, Int32Array>;
  readonly straddling: Map<number, Int32Array>;
  readonly maybeWithin: Map<number, Int32Array>;
  readonly maybeStraddling: Map<number, Int32Array>;
}

/** A counter of one (ad, minute) the server got wrong. */
export interface Mismatch {
  readonly ad: number;
  readonly field: CountField;
  /** The minute (ms since epoch) where the counts stop adding up. */
  readonly minute: number;
  /**
   * The first minute of the run of minutes joined by events in flight across
   * their boundaries; the wrong count is in [fromMinute, minute].
   */
  readonly fromMinute: number;
  readonly expected: { readonly min: number; readonly max: number };
  readonly observed: number;
}

export interface GroundTruthJson {
  readonly version: 1;
  readonly firstMs: number;
  readonly lastMs: number;
  readonly events: number;
  readonly unattributable: number;
  readonly fields: readonly string[];
  readonly ads: readonly {
    readonly ad: number;
    readonly within: readonly [number, number[]][];
    readonly straddling: readonly [number, number[]][];
    readonly maybeWithin?: readonly [number, number[]][];
    readonly maybeStraddling?: readonly [number, number[]][];
  }[];
  /** Events whose request got no answer, each allowed to count once or not at all. */
  readonly maybe?: number;
}

export type ObservedCounts = ReadonlyMap<number, Readonly<Record<CountField, number>>>;

/**
 * What loadgen knows it sent and got answered, per (ad, minute, counter).
 * Each event comes with its expectation from the traffic plan, which is per
 * impression (ad, imp) as SPEC 1 defines it: only a duplicate reuses a
 * token, ad and imp together, and every fresh event gets an imp of its own.
 *
 * A tracking request's event time is the collector's receive time, which
 * lies between the moment the request left and the moment its answer came
 * back. When that interval crosses a minute boundary, the event belongs to
 * one of two minutes and loadgen cannot know which: it is kept as
 * "straddling" and the check accepts any split of those events between the
 * two minutes, and no other discrepancy. A batch line with `at` has an exact
 * event time.
 */
export class GroundTruth {
  private readonly ads = new Map<number, AdTruth>();
  private firstMs = Number.POSITIVE_INFINITY;
  private lastMs = Number.NEGATIVE_INFINITY;
  private events = 0;
  /** Events whose interval spans more than one boundary (a request over 60 s): not attributable. */
  private unattributable = 0;
  private maybe = 0;

  /** One answered event whose event time is in [earliestMs, latestMs]. */
  record(ad: number, field: CountField, earliestMs: number, latestMs: number): void {
    this.add(ad, field, earliestMs, latestMs, false);
  }

  /**
   * One event whose request got no answer (the server was killed, a 5xx):
   * it may have been recorded, with an event time in [earliestMs, latestMs],
   * or not. The check lets it count once or not at all, never twice.
   */
  recordMaybe(ad: number, field: CountField, earliestMs: number, latestMs: number): void {
    this.add(ad, field, earliestMs, latestMs, true);
  }

  get maybeCount(): number {
    return this.maybe;
  }

  private add(ad: number, field: CountField, earliestMs: number, latestMs: number, maybe: boolean): void {
    const first = minuteOf(earliestMs);
    const last = minuteOf(latestMs);
    if (last - first > 1) {
      this.unattributable++;
      return;
    }
    const truth = this.adTruth(ad);
    const map = maybe
      ? first === last
        ? truth.maybeWithin
        : truth.maybeStraddling
      : first === last
        ? truth.within
        : truth.straddling;
    if (maybe) this.maybe++;
    else this.events++;
    let counters = map.get(first);
    if (counters === undefined) map.set(first, (counters = newCounters()));
    counters[FIELD_INDEX.get(field)!]!++;
    if (earliestMs < this.firstMs) this.firstMs = earliestMs;
    if (latestMs > this.lastMs) this.lastMs = latestMs;
  }

  /** Declares an ad that must be checked even if no event was sent for it (all zeros expected). */
  declareAd(ad: number): void {
    this.adTruth(ad);
  }

  get eventCount(): number {
    return this.events;
  }

  get unattributableCount(): number {
    return this.unattributable;
  }

  adIds(): number[] {
    return [...this.ads.keys()].sort((a, b) => a - b);
  }

  /** The minutes (ms since epoch) holding every recorded event: [from, to). Undefined when nothing was recorded. */
  window(): { fromMs: number; toMs: number } | undefined {
    if (this.events === 0) return undefined;
    return { fromMs: minuteOf(this.firstMs) * MINUTE_MS, toMs: (minuteOf(this.lastMs) + 1) * MINUTE_MS };
  }

  /**
   * Compares one ad's observed counts (per minute, ms keys) over the window
   * with the truth. Walking the minutes in order, the events straddling a
   * boundary that the previous minute did not take must land in this one, so
   * the split is forced minute by minute: any count outside what a split
   * allows is reported, and the walk resumes from the nearest consistent split.
   * Events of unknown fate widen each minute they may fall in by one each
   * (they are never forced), and the ad's total may exceed the sure events by
   * at most their number.
   */
  check(ad: number, observed: ObservedCounts): Mismatch[] {
    const span = this.window();
    if (span === undefined) return [];
    const truth = this.ads.get(ad);
    const mismatches: Mismatch[] = [];
    const zeros = newCounters();
    for (const [i, field] of COUNT_FIELDS.entries()) {
      let carried = 0;
      let runStart = span.fromMs;
      let sure = 0;
      let maybe = 0;
      let seenTotal = 0;
      const at = (map: Map<number, Int32Array> | undefined, minute: number): number =>
        (map?.get(minute) ?? zeros)[i]!;
      for (let ms = span.fromMs; ms < span.toMs; ms += MINUTE_MS) {
        const minute = ms / MINUTE_MS;
        const within = at(truth?.within, minute);
        const straddling = at(truth?.straddling, minute);
        const maybeHere =
          at(truth?.maybeWithin, minute) +
          at(truth?.maybeStraddling, minute) +
          at(truth?.maybeStraddling, minute - 1);
        const seen = observed.get(ms)?.[field] ?? 0;
        sure += within + straddling;
        maybe += at(truth?.maybeWithin, minute) + at(truth?.maybeStraddling, minute);
        seenTotal += seen;
        const takenHere = seen - within - carried;
        if (takenHere < 0 || takenHere > straddling + maybeHere) {
          mismatches.push({
            ad,
            field,
            minute: ms,
            fromMinute: runStart,
            expected: { min: within + carried, max: within + carried + straddling + maybeHere },
            observed: seen,
          });
        }
        const taken = Math.min(Math.max(takenHere, 0), straddling);
        carried = straddling - taken;
        if (straddling === 0) runStart = ms + MINUTE_MS;
      }
      if (maybe > 0 && seenTotal > sure + maybe) {
        mismatches.push({
          ad,
          field,
          minute: span.toMs - MINUTE_MS,
          fromMinute: span.fromMs,
          expected: { min: sure, max: sure + maybe },
          observed: seenTotal,
        });
      }
    }
    return mismatches;
  }

  /** A plain-JSON form, for `loadgen --save-truth` and a later `--check`. */
  toJSON(): GroundTruthJson {
    const entries = (map: Map<number, Int32Array>): [number, number[]][] =>
      [...map].map(([minute, counters]) => [minute, [...counters]]);
    return {
      version: 1,
      firstMs: this.firstMs,
      lastMs: this.lastMs,
      events: this.events,
      unattributable: this.unattributable,
      fields: [...COUNT_FIELDS],
      ads: [...this.ads].map(([ad, t]) => ({
        ad,
        within: entries(t.within),
        straddling: entries(t.straddling),
        maybeWithin: entries(t.maybeWithin),
        maybeStraddling: entries(t.maybeStraddling),
      })),
      maybe: this.maybe,
    };
  }

  static fromJSON(json: unknown): GroundTruth {
    const data = json as Partial<GroundTruthJson> | null;
    if (
      data === null ||
      typeof data !== 'object' ||
      data.version !== 1 ||
      !Array.isArray(data.ads) ||
      JSON.stringify(data.fields) !== JSON.stringify(COUNT_FIELDS)
    ) {
      throw new Error('not a ground truth file written by this version of adtally loadgen');
    }
    const truth = new GroundTruth();
    const counters = (values: unknown): Int32Array => {
      if (!Array.isArray(values) || values.length !== COUNT_FIELDS.length) {
        throw new Error('ground truth file: a counter row has the wrong length');
      }
      return Int32Array.from(values as number[]);
    };
    for (const {
      ad,
      within,
      straddling,
      maybeWithin,
      maybeStraddling,
    } of data.ads as GroundTruthJson['ads']) {
      const t = truth.adTruth(ad);
      for (const [minute, values] of within) t.within.set(minute, counters(values));
      for (const [minute, values] of straddling) t.straddling.set(minute, counters(values));
      for (const [minute, values] of maybeWithin ?? []) t.maybeWithin.set(minute, counters(values));
      for (const [minute, values] of maybeStraddling ?? []) t.maybeStraddling.set(minute, counters(values));
    }
    truth.firstMs = data.firstMs ?? Number.POSITIVE_INFINITY;
    truth.lastMs = data.lastMs ?? Number.NEGATIVE_INFINITY;
    truth.events = data.events ?? 0;
    truth.unattributable = data.unattributable ?? 0;
    truth.maybe = data.maybe ?? 0;
    return truth;
  }

  private adTruth(ad: number): AdTruth {
    let truth = this.ads.get(ad);
    if (truth === undefined) {
      truth = {
        within: new Map(),
        straddling: new Map(),
        maybeWithin: new Map(),
        maybeStraddling: new Map(),
      };
      this.ads.set(ad, truth);
    }
    return truth;
  }
}
