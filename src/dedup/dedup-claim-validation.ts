import type { DedupClaim } from './dedup-store.js';

/**
 * Throws a TypeError naming the first malformed claim. Claims come from the
 * worker, not from clients, so a bad one is a bug; it must fail loudly here
 * rather than become a wrong key or a script error far from its cause.
 */
export function assertValidClaims(claims: readonly DedupClaim[]): void {
  for (let i = 0; i < claims.length; i++) {
    const c = claims[i] as DedupClaim;
    const problem =
      c.kind !== 'impression' && c.kind !== 'click' && c.kind !== 'forward'
        ? `kind ${JSON.stringify(c.kind)} is not impression, click or forward`
        : !(Number.isSafeInteger(c.ad) && (c.ad > 0 || (c.kind === 'forward' && c.ad === 0)))
          ? `ad ${c.ad} is not a positive integer (0 for a forward)`
          : typeof c.imp !== 'string' || c.imp.length === 0
            ? 'imp is empty'
            : !(Number.isSafeInteger(c.partition) && c.partition >= 0)
              ? `partition ${c.partition} is not a non-negative integer`
              : !(Number.isSafeInteger(c.offset) && c.offset >= 0)
                ? `offset ${c.offset} is not a non-negative integer`
                : !Number.isSafeInteger(c.expiresAt)
                  ? `expiresAt ${c.expiresAt} is not an integer (ms since the epoch)`
                  : undefined;
    if (problem !== undefined) throw new TypeError(`dedup claim ${i}: ${problem}`);
  }
}
