import { isWithinValidity, parseToken } from '../domain/token.js';
import type { Ad } from '../store/catalog-store.js';
import type { IncomingEvent } from './collector.js';

/** SPEC 3.1: a POST /events body is at most 1 MiB. */
export const MAX_BATCH_BYTES = 1024 * 1024;

/** How far ahead of the collector's clock a batch line's `at` may be. */
export const MAX_AT_AHEAD_MS = 5_000;

export interface RejectedLine {
  /** 1-based line number in the request body. */
  readonly line: number;
  readonly reason: string;
}

export interface ParsedBatch {
  readonly accepted: IncomingEvent[];
  readonly rejected: RejectedLine[];
}

export interface BatchContext {
  readonly lookupAd: (id: number) => Ad | undefined;
  readonly now: number;
  readonly clickTtlMs: number;
  readonly clientIp: string;
}

/** Checks one parsed line; returns the event or why the line is not a well-formed event. */
function toEvent(value: unknown, ctx: BatchContext): IncomingEvent | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const line = value as Record<string, unknown>;
  if (line.type !== 'impression' && line.type !== 'click') return 'type must be "impression" or "click"';
  // JSON has numbers: "7" for an ad or a ts is a sender's bug to hear about, not a spelling to guess.
  if (line.ad !== undefined && typeof line.ad !== 'number') return 'ad must be a JSON number';
  if (line.ts !== undefined && typeof line.ts !== 'number') return 'ts must be a JSON number';
  const token = parseToken({
    ad: line.ad,
    imp: line.imp,
    ts: line.ts,
    sig: line.sig,
  });
  if (token === undefined) return 'ad, imp, ts or sig missing or malformed';
  if (ctx.lookupAd(token.ad) === undefined) return `unknown ad ${token.ad}`;
  let eventTime: number | undefined;
  if (line.at !== undefined) {
    const at = line.at;
    if (typeof at !== 'number') return 'at must be a JSON number';
    if (!Number.isSafeInteger(at)) return 'at must be integer milliseconds since epoch';
    if (at > ctx.now + MAX_AT_AHEAD_MS) return 'at is more than 5 s ahead of the collector clock';
    if (!isWithinValidity(token.ts, at, ctx.clickTtlMs / 1000)) return 'at is outside the token validity';
    eventTime = at;
  }
  return {
    type: line.type,
    ad: token.ad,
    token,
    rawImp: token.imp,
    // Server-to-server: the user agent is the ad server's, so bot rules do not apply.
    userAgent: 'server',
    prefetch: false,
    clientIp: ctx.clientIp,
    source: 'batch',
    ...(eventTime === undefined ? {} : { eventTime }),
  };
}

/**
 * Splits an NDJSON body into accepted events and rejected lines (SPEC 3.1):
 * rejected are lines that are not well-formed events; a well-formed event
 * whose token is bad or expired is accepted and later recorded as invalid.
 * Blank lines are skipped and count as neither.
 */
export function parseBatch(body: string, ctx: BatchContext): ParsedBatch {
  const accepted: IncomingEvent[] = [];
  const rejected: RejectedLine[] = [];
  const lines = body.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!.trim();
    if (text.length === 0) continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      rejected.push({ line: i + 1, reason: 'not valid JSON' });
      continue;
    }
    const event = toEvent(value, ctx);
    if (typeof event === 'string') rejected.push({ line: i + 1, reason: event });
    else accepted.push(event);
  }
  return { accepted, rejected };
}
