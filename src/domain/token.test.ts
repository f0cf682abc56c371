import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  hasValidSignature,
  parseToken,
  parseTokenTs,
  signToken,
  tokenKey,
  verifyToken,
  type ImpressionToken,
} from './token.js';

const SECRET = 'test-secret-0123456789';
const TTL_SEC = 24 * 3600;
const TS = 1_795_000_000;
const atSec = (sec: number): number => sec * 1000;

describe('impression tokens (SPEC 2)', () => {
  const token = signToken(SECRET, 7, 'imp_abcdefgh', TS);

  it('signs base64url without padding over "ad.imp.ts"', async () => {
    const { createHmac } = await import('node:crypto');
    const expected = createHmac('sha256', SECRET).update(`7.imp_abcdefgh.${TS}`).digest('base64url');
    assert.equal(token.sig, expected);
    assert.doesNotMatch(token.sig, /[=+/]/);
    assert.equal(token.sig.length, 43);
  });

  it('verifies an untouched token within its window', () => {
    assert.equal(verifyToken(SECRET, token, atSec(TS + 10), TTL_SEC), 'valid');
    assert.equal(verifyToken(SECRET, token, atSec(TS - 300), TTL_SEC), 'valid');
    assert.equal(verifyToken(SECRET, token, atSec(TS + TTL_SEC), TTL_SEC), 'valid');
  });

  const tampered: [string, ImpressionToken][] = [
    ['ad', { ...token, ad: 8 }],
    ['imp', { ...token, imp: 'imp_abcdefgX' }],
    ['ts', { ...token, ts: TS + 1 }],
    ['sig', { ...token, sig: `${token.sig.slice(0, 42)}${token.sig.endsWith('A') ? 'B' : 'A'}` }],
  ];
  for (const [field, forged] of tampered) {
    it(`rejects a token with a tampered ${field}`, () => {
      assert.equal(hasValidSignature(SECRET, forged), false);
      assert.equal(verifyToken(SECRET, forged, atSec(TS + 10), TTL_SEC), 'bad_signature');
    });
  }

  it('rejects a token signed with another secret', () => {
    assert.equal(verifyToken('another-secret-xxxxxx', token, atSec(TS), TTL_SEC), 'bad_signature');
  });

  it('reports expired after ts + ttl', () => {
    assert.equal(verifyToken(SECRET, token, atSec(TS + TTL_SEC + 1), TTL_SEC), 'expired');
    assert.equal(verifyToken(SECRET, token, atSec(TS + 61), 60), 'expired');
  });

  it('reports a token used more than 300 s before ts as outside its window', () => {
    assert.equal(verifyToken(SECRET, token, atSec(TS - 301), TTL_SEC), 'expired');
  });

  it('treats an unparseable token as a bad signature', () => {
    assert.equal(verifyToken(SECRET, undefined, atSec(TS), TTL_SEC), 'bad_signature');
  });
});

describe('parseToken', () => {
  const sig = 'a'.repeat(43);
  it('accepts the forms of SPEC 2, from strings or numbers', () => {
    assert.deepEqual(parseToken({ ad: '7', imp: 'abcdefgh', ts: '123', sig }), {
      ad: 7,
      imp: 'abcdefgh',
      ts: 123,
      sig,
    });
    assert.deepEqual(parseToken({ ad: 7, imp: 'A-_z0123', ts: 123, sig }), {
      ad: 7,
      imp: 'A-_z0123',
      ts: 123,
      sig,
    });
  });
  const bad: [string, Record<string, unknown>][] = [
    ['ad zero', { ad: '0' }],
    ['ad negative', { ad: '-1' }],
    ['ad leading zero', { ad: '07' }],
    ['ad too large', { ad: '2147483648' }],
    ['ad fractional', { ad: 1.5 }],
    ['imp too short', { imp: 'abcdefg' }],
    ['imp too long', { imp: 'a'.repeat(65) }],
    ['imp bad char', { imp: 'abcd.efgh' }],
    ['ts negative', { ts: '-5' }],
    ['ts not a number', { ts: 'now' }],
    ['sig padded', { sig: `${'a'.repeat(42)}=` }],
    ['sig missing', { sig: undefined }],
  ];
  for (const [name, override] of bad) {
    it(`rejects ${name}`, () => {
      assert.equal(parseToken({ ad: '7', imp: 'abcdefgh', ts: '123', sig, ...override }), undefined);
    });
  }
});

describe('parseTokenTs: canonical decimal digits only (SPEC 2)', () => {
  const cases: [unknown, number | undefined][] = [
    ['0', 0],
    ['7', 7],
    ['1700000000', 1_700_000_000],
    ['99999999999', 99_999_999_999],
    ['01700000000', undefined],
    ['00', undefined],
    ['007', undefined],
    ['+1700000000', undefined],
    ['-1700000000', undefined],
    ['-0', undefined],
    [' 1700000000', undefined],
    ['1700000000 ', undefined],
    ['1.7e9', undefined],
    ['1700000000.0', undefined],
    ['0x65', undefined],
    ['', undefined],
    ['100000000000', undefined],
    [0, 0],
    [1_700_000_000, 1_700_000_000],
    [1.5, undefined],
    [-1, undefined],
    [100_000_000_000, undefined],
    [Number.NaN, undefined],
    [null, undefined],
    [undefined, undefined],
  ];
  for (const [raw, expected] of cases) {
    it(`${typeof raw === 'string' ? JSON.stringify(raw) : String(raw)} -> ${String(expected)}`, () => {
      assert.equal(parseTokenTs(raw), expected);
    });
  }
});

describe('signature checks', () => {
  const token = signToken(SECRET, 7, 'imp_abcdefgh', TS);
  const last = token.sig[42]!;

  it('rejects the other spellings of the signature whose last character decodes alike', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const index = alphabet.indexOf(last);
    assert.equal(index % 4, 0, 'a signature from signToken is canonical');
    for (let low = 1; low < 4; low++) {
      const spelled = { ...token, sig: `${token.sig.slice(0, 42)}${alphabet[index + low]}` };
      assert.deepEqual(Buffer.from(spelled.sig, 'base64url'), Buffer.from(token.sig, 'base64url'));
      assert.equal(hasValidSignature(SECRET, spelled), false);
    }
  });

  it('rejects a signature in the base64 (not url) alphabet, or of the wrong length', () => {
    const forms = [
      token.sig.replaceAll('-', '+').replaceAll('_', '/'),
      `${token.sig}=`,
      token.sig.slice(0, 42),
      '',
    ];
    for (const sig of forms)
      if (sig !== token.sig) assert.equal(hasValidSignature(SECRET, { ...token, sig }), false);
  });

  it('gives the same answers with a prepared key, a string and a Buffer secret', () => {
    const key = tokenKey(SECRET);
    assert.deepEqual(signToken(key, 7, 'imp_abcdefgh', TS), token);
    assert.deepEqual(signToken(Buffer.from(SECRET), 7, 'imp_abcdefgh', TS), token);
    assert.equal(verifyToken(key, token, atSec(TS), TTL_SEC), 'valid');
    assert.equal(verifyToken(tokenKey('another-secret-xxxxxx'), token, atSec(TS), TTL_SEC), 'bad_signature');
  });

  it('notices a Buffer secret refilled in place', () => {
    const secret = Buffer.from(SECRET);
    assert.equal(hasValidSignature(secret, token), true);
    secret.fill(0x41);
    assert.equal(hasValidSignature(secret, token), false);
  });

  it('signs and verifies random tokens like createHmac does', async () => {
    const { createHmac } = await import('node:crypto');
    for (let i = 0; i < 300; i++) {
      const imp = randomImp(8 + (i % 57));
      const ad = 1 + ((i * 7919) % 2_147_483_647);
      const ts = (i * 104_729) % 99_999_999_999;
      const sig = createHmac('sha256', SECRET).update(`${ad}.${imp}.${ts}`).digest('base64url');
      assert.equal(signToken(SECRET, ad, imp, ts).sig, sig);
      assert.equal(hasValidSignature(SECRET, { ad, imp, ts, sig }), true);
    }
  });
});

function randomImp(length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  return Array.from({ length }, () => alphabet[Math.floor(Math.random() * 64)]).join('');
}
