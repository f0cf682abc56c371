import { createHmac, timingSafeEqual } from 'node:crypto';

/** An impression token as defined in SPEC section 2. */
export interface ImpressionToken {
  readonly ad: number;
  readonly imp: string;
  /** Issue time, unix seconds. */
  readonly ts: number;
  /** base64url (no padding) HMAC-SHA256 of `${ad}.${imp}.${ts}`. */
  readonly sig: string;
}

/** How early a token may be used: clocks of ad servers and collectors differ. */
export const TOKEN_EARLY_TOLERANCE_SEC = 300;

const IMP_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;
const AD_PATTERN = /^[1-9][0-9]{0,9}$/;
/** SPEC 2: canonical decimal digits, no sign and no leading zero ("0" itself aside). */
const TS_PATTERN = /^(?:0|[1-9][0-9]{0,10})$/;
const SIG_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** Ad ids are stored as u32 in log records and INTEGER in the store. */
export const MAX_AD_ID = 2_147_483_647;

export function isValidImpressionId(imp: string): boolean {
  return IMP_PATTERN.test(imp);
}

/** Parses an ad id: a positive decimal integer without leading zeros, at most MAX_AD_ID. */
export function parseAdId(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isInteger(raw) && raw > 0 && raw <= MAX_AD_ID ? raw : undefined;
  if (typeof raw !== 'string' || !AD_PATTERN.test(raw)) return undefined;
  const ad = Number(raw);
  return ad <= MAX_AD_ID ? ad : undefined;
}

/**
 * Parses a token issue time, unix seconds: text in canonical decimal digits
 * (the query string), or a number whose canonical spelling is such text (a
 * JSON line), so both routes accept exactly the same values.
 */
export function parseTokenTs(raw: unknown): number | undefined {
  if (typeof raw === 'number')
    return Number.isSafeInteger(raw) && TS_PATTERN.test(String(raw)) ? raw : undefined;
  if (typeof raw !== 'string' || !TS_PATTERN.test(raw)) return undefined;
  return Number(raw);
}

/**
 * Parses the four token fields. Returns undefined when any of them is not of
 * the form SPEC 2 gives: such a token cannot carry a valid signature.
 */
export function parseToken(fields: {
  ad: unknown;
  imp: unknown;
  ts: unknown;
  sig: unknown;
}): ImpressionToken | undefined {
  const ad = parseAdId(fields.ad);
  const ts = parseTokenTs(fields.ts);
  const { imp, sig } = fields;
  if (ad === undefined || ts === undefined) return undefined;
  if (typeof imp !== 'string' || !IMP_PATTERN.test(imp)) return undefined;
  if (typeof sig !== 'string' || !SIG_PATTERN.test(sig)) return undefined;
  return { ad, imp, ts, sig };
}

function mac(secret: string | Buffer, ad: number, imp: string, ts: number): Buffer {
  return createHmac('sha256', secret).update(`${ad}.${imp}.${ts}`).digest();
}

/** Signs a token the way an ad server holding the secret would. */
export function signToken(secret: string | Buffer, ad: number, imp: string, ts: number): ImpressionToken {
  return { ad, imp, ts, sig: mac(secret, ad, imp, ts).toString('base64url') };
}

/** Whether the signature matches, compared in constant time. */
export function hasValidSignature(secret: string | Buffer, token: ImpressionToken): boolean {
  const given = Buffer.from(token.sig, 'base64url');
  const expected = mac(secret, token.ad, token.imp, token.ts);
  // Length differs only for malformed input, which leaks nothing secret.
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export type TokenVerdict = 'valid' | 'bad_signature' | 'expired';

/**
 * Checks a token at `nowMs`. A token is valid from ts - 300 s to ts + ttl.
 * A token used before its window (a clock far ahead, or a forged ts that
 * still verifies) is reported as `expired`: it is outside its validity window.
 */
export function verifyToken(
  secret: string | Buffer,
  token: ImpressionToken | undefined,
  nowMs: number,
  ttlSec: number,
): TokenVerdict {
  if (token === undefined || !hasValidSignature(secret, token)) return 'bad_signature';
  return isWithinValidity(token.ts, nowMs, ttlSec) ? 'valid' : 'expired';
}

/** Whether `atMs` falls within the validity window of a token issued at `ts`. */
export function isWithinValidity(ts: number, atMs: number, ttlSec: number): boolean {
  const atSec = atMs / 1000;
  return atSec >= ts - TOKEN_EARLY_TOLERANCE_SEC && atSec <= ts + ttlSec;
}
