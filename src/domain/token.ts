import { timingSafeEqual } from 'node:crypto';
import { HmacSha256 } from './hmac-sha256.js';

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

/** A token secret: raw, or prepared once with `tokenKey` (what the hot path passes). */
export type TokenSecret = string | Buffer | HmacSha256;

/** Prepares a secret once: the HMAC pad states, so that a verification allocates nothing. */
export function tokenKey(secret: string | Buffer): HmacSha256 {
  return new HmacSha256(secret);
}

/** Raw secrets seen last, so callers that pass the same one over and over prepare it once. */
let lastString: { secret: string; key: HmacSha256 } | undefined;
let lastBuffer: { secret: Buffer; copy: Buffer; key: HmacSha256 } | undefined;

function keyOf(secret: TokenSecret): HmacSha256 {
  if (secret instanceof HmacSha256) return secret;
  if (typeof secret === 'string') {
    if (lastString?.secret !== secret) lastString = { secret, key: new HmacSha256(secret) };
    return lastString.key;
  }
  // Compared by content too: a buffer may have been refilled since it was prepared.
  if (lastBuffer?.secret !== secret || !lastBuffer.copy.equals(secret)) {
    lastBuffer = { secret, copy: Buffer.from(secret), key: new HmacSha256(secret) };
  }
  return lastBuffer.key;
}

function macInto(secret: TokenSecret, ad: number, imp: string, ts: number, out: Buffer): void {
  keyOf(secret).digestInto(`${ad}.${imp}.${ts}`, out);
}

/** Signs a token the way an ad server holding the secret would. */
export function signToken(secret: TokenSecret, ad: number, imp: string, ts: number): ImpressionToken {
  const out = Buffer.allocUnsafe(32);
  macInto(secret, ad, imp, ts, out);
  return { ad, imp, ts, sig: out.toString('base64url') };
}

/**
 * The characters a canonical 43-character signature can end with: its last
 * character carries 4 bits of the MAC and 2 zero bits. A decoder ignores those
 * 2 bits, so without this check four spellings of one signature would verify.
 */
const CANONICAL_LAST_CHARS = 'AEIMQUYcgkosw048';
const given = Buffer.alloc(32);
const expected = Buffer.alloc(32);

/** Whether the signature matches, compared in constant time. */
export function hasValidSignature(secret: TokenSecret, token: ImpressionToken): boolean {
  const { sig } = token;
  // A malformed or non-canonical spelling leaks nothing secret: those checks may exit early.
  if (!SIG_PATTERN.test(sig) || !CANONICAL_LAST_CHARS.includes(sig[42]!)) return false;
  // Decoded into a reused buffer (measured: cheaper than encoding the expected MAC to compare strings).
  given.write(sig, 'base64url');
  macInto(secret, token.ad, token.imp, token.ts, expected);
  return timingSafeEqual(given, expected);
}

export type TokenVerdict = 'valid' | 'bad_signature' | 'expired';

/**
 * Checks a token at `nowMs`. A token is valid from ts - 300 s to ts + ttl.
 * A token used before its window (a clock far ahead, or a forged ts that
 * still verifies) is reported as `expired`: it is outside its validity window.
 */
export function verifyToken(
  secret: TokenSecret,
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
