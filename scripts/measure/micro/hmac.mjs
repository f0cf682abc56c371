// ns per token verification: the ways of computing and comparing HMAC-SHA256.
import { createHash, createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import { compare } from './timing.mjs';

const secret = Buffer.from('e2e-test-secret-0123456789abcdef');
const key = createSecretKey(secret);
const tokens = Array.from({ length: 1024 }, (_, i) => {
  const msg = `${(i % 20) + 1}.wmx556tvq_${String(i).padStart(6, '0')}.1796156474`;
  return { msg, sig: createHmac('sha256', secret).update(msg).digest('base64url') };
});
const block = Buffer.alloc(64);
secret.copy(block);
const ipad = Buffer.from(block.map((b) => b ^ 0x36));
const opad = Buffer.from(block.map((b) => b ^ 0x5c));
const inner = createHash('sha256').update(ipad);
const outer = createHash('sha256').update(opad);

const viaDecode = (mac) => (t) => {
  const given = Buffer.from(t.sig, 'base64url');
  const expected = mac(t.msg);
  return given.length === expected.length && timingSafeEqual(given, expected);
};
const viaEncode = (mac) => (t) => {
  const expected = Buffer.from(mac(t.msg).toString('base64url'), 'latin1');
  const given = Buffer.from(t.sig, 'latin1');
  return given.length === expected.length && timingSafeEqual(given, expected);
};
const macs = {
  'createHmac(secret Buffer)': (m) => createHmac('sha256', secret).update(m).digest(),
  'createHmac(KeyObject)': (m) => createHmac('sha256', key).update(m).digest(),
  'hash.copy() of ipad/opad states': (m) =>
    outer.copy().update(inner.copy().update(m).digest()).digest(),
};
const candidates = {};
for (const [name, mac] of Object.entries(macs)) {
  candidates[`${name}, decode sig`] = (i) => viaDecode(mac)(tokens[i & 1023]);
}
candidates['hash.copy(), encode expected'] = (i) => viaEncode(macs['hash.copy() of ipad/opad states'])(tokens[i & 1023]);
candidates['createHmac(KeyObject), encode expected'] = (i) => viaEncode(macs['createHmac(KeyObject)'])(tokens[i & 1023]);
candidates['(decode sig only)'] = (i) => Buffer.from(tokens[i & 1023].sig, 'base64url').length === 32;
// sanity: all agree
for (const t of tokens) for (const [n, f] of Object.entries(candidates)) if (!f(tokens.indexOf(t))) throw new Error(n);
compare(candidates, { iterations: Number(process.env.N ?? 200_000) });

// One-shot crypto.hash (node >= 20.12) over key^ipad || msg and key^opad || inner, in reused buffers.
import { hash } from 'node:crypto';
const innerBuf = Buffer.alloc(64 + 128);
ipad.copy(innerBuf);
const outerBuf = Buffer.alloc(64 + 32);
opad.copy(outerBuf);
const oneShot = (m) => {
  const n = innerBuf.write(m, 64, 'latin1');
  const ih = hash('sha256', innerBuf.subarray(0, 64 + n), 'buffer');
  ih.copy(outerBuf, 64);
  return hash('sha256', outerBuf, 'buffer');
};
const c2 = {
  'crypto.hash one-shot x2, decode sig': (i) => viaDecode(oneShot)(tokens[i & 1023]),
  'createHmac(KeyObject), decode sig': (i) => viaDecode(macs['createHmac(KeyObject)'])(tokens[i & 1023]),
  'crypto.hash of a 90-byte string (one call)': (i) => hash('sha256', tokens[i & 1023].msg, 'buffer').length === 32,
};
for (let i = 0; i < 1024; i++) if (!c2['crypto.hash one-shot x2, decode sig'](i)) throw new Error('oneShot');
console.log('--');
compare(c2, { iterations: Number(process.env.N ?? 200_000) });
