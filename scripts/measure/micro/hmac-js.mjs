// ns per token verification: node:crypto's HMAC against the JS one (src/domain/hmac-sha256.ts).
import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import { HmacSha256 } from '../../../dist/src/domain/hmac-sha256.js';
import { compare } from './timing.mjs';

const secret = Buffer.from('e2e-test-secret-0123456789abcdef');
const key = createSecretKey(secret);
const tokens = Array.from({ length: 1024 }, (_, i) => {
  const msg = `${(i % 20) + 1}.wmx556tvq_${String(i).padStart(6, '0')}.1796156474`;
  return { msg, sig: createHmac('sha256', secret).update(msg).digest('base64url') };
});
const js = new HmacSha256(secret);
const expected = Buffer.alloc(32);
const given = Buffer.alloc(32);
const candidates = {
  'createHmac(secret), Buffer.from(sig)': (i) => {
    const t = tokens[i & 1023];
    const g = Buffer.from(t.sig, 'base64url');
    const e = createHmac('sha256', secret).update(t.msg).digest();
    return g.length === e.length && timingSafeEqual(g, e);
  },
  'createHmac(KeyObject), Buffer.from(sig)': (i) => {
    const t = tokens[i & 1023];
    const g = Buffer.from(t.sig, 'base64url');
    const e = createHmac('sha256', key).update(t.msg).digest();
    return g.length === e.length && timingSafeEqual(g, e);
  },
  'JS HMAC, Buffer.from(sig)': (i) => {
    const t = tokens[i & 1023];
    const g = Buffer.from(t.sig, 'base64url');
    const e = js.digest(t.msg);
    return g.length === e.length && timingSafeEqual(g, e);
  },
  'JS HMAC into reused buffers, write(sig)': (i) => {
    const t = tokens[i & 1023];
    const n = given.write(t.sig, 'base64url');
    js.digestInto(t.msg, expected);
    return n === 32 && timingSafeEqual(given, expected);
  },
  'JS HMAC digestInto alone': (i) => {
    js.digestInto(tokens[i & 1023].msg, expected);
    return true;
  },
};
for (let i = 0; i < 1024; i++) for (const [n, f] of Object.entries(candidates)) if (!f(i)) throw new Error(n);
compare(candidates, { iterations: Number(process.env.N ?? 200_000) });
