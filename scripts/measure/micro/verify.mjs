// ns per hasValidSignature: the node:crypto version this replaced against src/domain/token.ts.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { hasValidSignature, signToken, tokenKey } from '../../../dist/src/domain/token.js';
import { compare } from './timing.mjs';

const secret = Buffer.from('e2e-test-secret-0123456789abcdef');
const tokens = Array.from({ length: 1024 }, (_, i) =>
  signToken(secret, (i % 20) + 1, `b${(1e9 + i).toString(36)}_${i.toString(36)}xxxxxxxxxxxx`, 1796156474),
);
const key = tokenKey(secret);
function before(t) {
  const given = Buffer.from(t.sig, 'base64url');
  const expected = createHmac('sha256', secret).update(`${t.ad}.${t.imp}.${t.ts}`).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}
compare(
  {
    'before: createHmac per verify': (i) => before(tokens[i & 1023]),
    'after: hasValidSignature(tokenKey)': (i) => hasValidSignature(key, tokens[i & 1023]),
    'after: hasValidSignature(raw Buffer secret)': (i) => hasValidSignature(secret, tokens[i & 1023]),
  },
  { iterations: Number(process.env.N ?? 300_000) },
);
