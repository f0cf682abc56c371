import { encodeEvent, type TrackedEvent } from '../domain/event.js';
import type { Outcome } from '../domain/outcome.js';
import { seededRandom, zipfSampler } from '../domain/seeded-random.js';

export interface SyntheticTraffic {
  readonly ads: number;
  readonly startMs: number;
  readonly eventsPerSecond: number;
  readonly duplicateRate: number;
  readonly invalidRate: number;
  readonly seed: number;
}

const IP_HASH = Buffer.alloc(8, 7);
const INVALID: Outcome[] = ['bad_signature', 'expired', 'bot', 'prefetch'];

/**
 * Encoded event records as collectors would write them: impressions and
 * clicks over `ads` ads with Zipf(1.1) skew, event time advancing at
 * `eventsPerSecond`, a share of duplicates and of invalid traffic.
 */
export function* syntheticRecords(traffic: SyntheticTraffic, count: number): Generator<Buffer> {
  const random = seededRandom(traffic.seed);
  const pickAd = zipfSampler(traffic.ads, 1.1, random);
  // A duplicate repeats an earlier impression id, so it carries that impression's ad.
  const adOfSerial = new Uint32Array(count);
  let serial = 0;
  for (let i = 0; i < count; i++) {
    const eventTime = traffic.startMs + Math.floor((i * 1000) / traffic.eventsPerSecond);
    const duplicate = serial > 0 && random() < traffic.duplicateRate;
    const impSerial = duplicate ? Math.floor(random() * serial) : serial++;
    if (!duplicate) adOfSerial[impSerial] = 1 + pickAd();
    const invalid = random() < traffic.invalidRate;
    const event: TrackedEvent = {
      type: random() < 0.5 ? 'impression' : 'click',
      ad: adOfSerial[impSerial]!,
      imp: `imp${impSerial.toString(36).padStart(10, '0')}`,
      tokenTs: Math.floor(eventTime / 1000) - 10,
      eventTime,
      receivedAt: eventTime,
      outcome: invalid ? INVALID[Math.floor(random() * INVALID.length)]! : 'ok',
      ipHash: IP_HASH,
      userAgent: 'browser',
      source: 'get',
    };
    yield encodeEvent(event);
  }
}
