import { zipfSampler } from '../domain/seeded-random.js';
import type { Expectation } from './ground-truth.js';

/** The share of each kind of traffic, each in [0, 1]. */
export interface TrafficMix {
  /** Clicks per impression among valid first events. */
  readonly ctr: number;
  /** Only clicks (as when the pixel is blocked): every fresh event is a click on a new impression id. */
  readonly clicksOnly: boolean;
  readonly dupRate: number;
  readonly badSigRate: number;
  readonly expiredRate: number;
  readonly botRate: number;
  readonly prefetchRate: number;
  /** Valid events sent late, as batch lines whose `at` lies in the past. */
  readonly lateRate: number;
  /** Zipf exponent of traffic over ads (0: uniform). */
  readonly zipf: number;
}

export type EventType = 'impression' | 'click';
export type InvalidKind = 'bad_signature' | 'expired' | 'bot' | 'prefetch';

/** A token that was sent and answered, which later events may reuse. */
export interface SentToken {
  readonly ad: number;
  readonly imp: string;
  readonly ts: number;
  readonly sig: string;
}

/**
 * The next event to send:
 * - `fresh`: a new impression id on `ad` (valid unless `invalid` says how not);
 * - `click`: the click of an impression answered earlier (its first click);
 * - `duplicate`: an answered valid event sent again, same type and token.
 */
export type PlannedEvent =
  | {
      readonly kind: 'fresh';
      readonly type: EventType;
      readonly ad: number;
      readonly invalid: InvalidKind | undefined;
      readonly late: boolean;
    }
  | { readonly kind: 'click'; readonly token: SentToken }
  | { readonly kind: 'duplicate'; readonly type: EventType; readonly token: SentToken };

export function expectationOf(event: PlannedEvent): Expectation {
  if (event.kind === 'duplicate') return 'duplicate';
  if (event.kind === 'click') return 'billable';
  return event.invalid ?? 'billable';
}

const RECENT_LIMIT = 4_096;

/**
 * Decides, event by event, what loadgen sends; pure apart from its seeded
 * random source. Duplicates and clicks only reuse tokens whose first event
 * was already answered, so the server must have logged the original first
 * and the expectation of every event is known when it is sent. Invalid
 * events get impression ids of their own, so they never change which event
 * of an id is the first valid one.
 */
export class TrafficPlan {
  private readonly pickAd: () => number;
  private readonly billable: SentToken[] = [];
  private readonly billableTypes: EventType[] = [];
  private readonly awaitingClick: SentToken[] = [];
  private readonly clickShare: number;

  constructor(
    private readonly mix: TrafficMix,
    private readonly ads: readonly number[],
    private readonly random: () => number,
  ) {
    if (ads.length === 0) throw new Error('traffic needs at least one ad');
    this.pickAd = zipfSampler(ads.length, mix.zipf, random);
    this.clickShare = mix.ctr / (1 + mix.ctr);
  }

  next(): PlannedEvent {
    const { mix, random } = this;
    if (this.billable.length > 0 && random() < mix.dupRate) {
      const i = Math.floor(random() * this.billable.length);
      return { kind: 'duplicate', type: this.billableTypes[i]!, token: this.billable[i]! };
    }
    const invalid = this.drawInvalid(random());
    if (invalid !== undefined) {
      const type: EventType = mix.clicksOnly || random() < 0.5 ? 'click' : 'impression';
      return { kind: 'fresh', type, ad: this.ad(), invalid, late: false };
    }
    const late = random() < mix.lateRate;
    if (mix.clicksOnly) return { kind: 'fresh', type: 'click', ad: this.ad(), invalid: undefined, late };
    const wantsClick = random() < this.clickShare;
    if (wantsClick && !late && this.awaitingClick.length > 0) {
      return { kind: 'click', token: this.awaitingClick.pop()! };
    }
    return {
      kind: 'fresh',
      type: wantsClick && late ? 'click' : 'impression',
      ad: this.ad(),
      invalid: undefined,
      late,
    };
  }

  /** Feedback: `event`, sent with `token`, was answered as durable. */
  answered(event: PlannedEvent, type: EventType, token: SentToken): void {
    if (expectationOf(event) !== 'billable') return;
    this.remember(type, token);
    if (type === 'impression' && !this.mix.clicksOnly && this.awaitingClick.length < RECENT_LIMIT) {
      this.awaitingClick.push(token);
    }
  }

  private remember(type: EventType, token: SentToken): void {
    if (this.billable.length < RECENT_LIMIT) {
      this.billable.push(token);
      this.billableTypes.push(type);
      return;
    }
    const i = Math.floor(this.random() * RECENT_LIMIT);
    this.billable[i] = token;
    this.billableTypes[i] = type;
  }

  private drawInvalid(r: number): InvalidKind | undefined {
    const { mix } = this;
    let edge = mix.badSigRate;
    if (r < edge) return 'bad_signature';
    if (r < (edge += mix.expiredRate)) return 'expired';
    if (r < (edge += mix.botRate)) return 'bot';
    if (r < (edge += mix.prefetchRate)) return 'prefetch';
    return undefined;
  }

  private ad(): number {
    return this.ads[this.pickAd()]!;
  }
}
