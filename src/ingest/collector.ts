import { createHmac } from 'node:crypto';
import {
  encodeEvent,
  IP_HASH_BYTES,
  type EventSource,
  type EventType,
  type TrackedEvent,
} from '../domain/event.js';
import { classifyOutcome, type Outcome } from '../domain/outcome.js';
import { tokenKey, verifyToken, type ImpressionToken, type TokenSecret } from '../domain/token.js';
import type { UserAgentClass } from '../domain/user-agent.js';
import type { EventAppender, LogPosition } from '../log/event-log.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Ad } from '../store/catalog-store.js';

export interface CollectorDeps {
  readonly log: EventAppender;
  readonly lookupAd: (id: number) => Ad | undefined;
  readonly secret: Buffer;
  readonly clickTtlMs: number;
  readonly now: () => number;
  readonly metrics: Metrics;
}

/** One event as a route sees it, before classification. */
export interface IncomingEvent {
  readonly type: EventType;
  readonly ad: number;
  /** The parsed token, or undefined when the request's token fields were malformed. */
  readonly token: ImpressionToken | undefined;
  /** Raw imp from the request, kept (truncated) in the record even when malformed. */
  readonly rawImp: string;
  readonly userAgent: UserAgentClass;
  readonly prefetch: boolean;
  readonly clientIp: string;
  readonly source: EventSource;
  /** Event time when the sender gave one (batch `at`); receive time otherwise. */
  readonly eventTime?: number;
}

export interface Recorded {
  readonly ad: Ad | undefined;
  readonly outcome: Outcome;
  readonly position: LogPosition;
}

const SANITIZE_IMP = /[^A-Za-z0-9_-]/g;
const IP_CACHE_LIMIT = 50_000;

/**
 * Turns requests into raw event records and makes them durable. Resolves only
 * after the event log acknowledged the record (fsync'd, or acked by Kafka), so a caller that
 * answers after `record` resolves never acknowledges a lost event.
 */
export class Collector {
  private readonly ipSalt: Buffer;
  /** The secret prepared once: HMAC pad states, so a verification allocates nothing. */
  private readonly key: TokenSecret;
  private readonly ipHashes = new Map<string, Buffer>();

  constructor(private readonly deps: CollectorDeps) {
    // Derived, not configured: every collector sharing the secret hashes an IP alike.
    this.key = tokenKey(deps.secret);
    this.ipSalt = createHmac('sha256', deps.secret).update('adtally ip salt v1').digest();
  }

  /** The salted hash kept instead of the client IP. */
  hashIp(ip: string): Buffer {
    let hash = this.ipHashes.get(ip);
    if (hash === undefined) {
      hash = createHmac('sha256', this.ipSalt).update(ip).digest().subarray(0, IP_HASH_BYTES);
      if (this.ipHashes.size >= IP_CACHE_LIMIT) this.ipHashes.clear();
      this.ipHashes.set(ip, hash);
    }
    return hash;
  }

  async record(incoming: IncomingEvent): Promise<Recorded> {
    const { deps } = this;
    const receivedAt = deps.now();
    const ad = deps.lookupAd(incoming.ad);
    const ttlSec = deps.clickTtlMs / 1000;
    let token = verifyToken(this.key, incoming.token, incoming.eventTime ?? receivedAt, ttlSec);
    // A batch line is judged at its `at`, but it must also arrive before its token expires:
    // dedup forgets an impression id once its token has expired, so a valid event may never
    // be received after ts + TTL (docs/ARCHITECTURE.md, "Bounded by the TTL").
    if (token === 'valid' && incoming.token !== undefined && receivedAt / 1000 > incoming.token.ts + ttlSec) {
      token = 'expired';
    }
    const outcome = classifyOutcome({
      knownAd: ad !== undefined,
      token,
      userAgent: incoming.userAgent,
      prefetch: incoming.prefetch,
    });
    const event: TrackedEvent = {
      type: incoming.type,
      ad: incoming.ad,
      imp: incoming.token?.imp ?? incoming.rawImp.slice(0, 64).replace(SANITIZE_IMP, '_'),
      tokenTs: incoming.token?.ts ?? 0,
      eventTime: incoming.eventTime ?? receivedAt,
      receivedAt,
      outcome,
      ipHash: this.hashIp(incoming.clientIp),
      userAgent: incoming.userAgent,
      source: incoming.source,
    };
    const started = performance.now();
    const position = await deps.log.append(encodeEvent(event), event);
    deps.metrics.logAppendLatency.observe((performance.now() - started) / 1000);
    deps.metrics.recordEvent(event.type, outcome);
    return { ad, outcome, position };
  }
}
