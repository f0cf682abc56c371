import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signToken } from '../domain/token.js';
import type { Ad } from '../store/catalog-store.js';
import { parseBatch } from './batch.js';

const SECRET = 'batch-secret-0123456789';
const NOW = 1_795_000_000_000;
const TS = NOW / 1000 - 60;
const AD: Ad = {
  id: 3,
  campaignId: 1,
  advertiserId: 1,
  name: 'a',
  targetUrl: 'https://x.test/',
  active: true,
};
const ctx = {
  lookupAd: (id: number) => (id === 3 ? AD : undefined),
  now: NOW,
  clickTtlMs: 3_600_000,
  clientIp: '127.0.0.1',
};
const line = (over: Record<string, unknown> = {}): string =>
  JSON.stringify({ type: 'click', ...signToken(SECRET, 3, 'imp_12345678', TS), ...over });

describe('parseBatch', () => {
  it('accepts well-formed lines, keeping at as the event time', () => {
    const { accepted, rejected } = parseBatch(
      [line(), line({ type: 'impression', at: NOW - 1000 })].join('\n'),
      ctx,
    );
    assert.equal(rejected.length, 0);
    assert.equal(accepted.length, 2);
    assert.equal(accepted[0]!.eventTime, undefined);
    assert.equal(accepted[1]!.eventTime, NOW - 1000);
    assert.equal(accepted[1]!.source, 'batch');
    assert.equal(accepted[1]!.userAgent, 'server');
  });

  it('accepts a well-formed line with a bad signature: it is recorded as invalid later', () => {
    const { accepted } = parseBatch(line({ sig: 'A'.repeat(43) }), ctx);
    assert.equal(accepted.length, 1);
  });

  it('skips blank lines and names each rejected line with its reason', () => {
    const body = [
      line(),
      '',
      '{not json',
      line({ type: 'view' }),
      line({ ad: 99 }),
      line({ imp: 'short' }),
      line({ at: NOW + 6000 }),
      line({ at: (TS - 301) * 1000 }),
      line({ at: 'yesterday' }),
      '[1,2]',
    ].join('\n');
    const { accepted, rejected } = parseBatch(body, ctx);
    assert.equal(accepted.length, 1);
    assert.deepEqual(
      rejected.map((r) => r.line),
      [3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.match(rejected[0]!.reason, /JSON/);
    assert.match(rejected[1]!.reason, /type/);
    assert.match(rejected[2]!.reason, /unknown ad 99/);
    assert.match(rejected[4]!.reason, /ahead/);
    assert.match(rejected[5]!.reason, /validity/);
  });

  it('wants ad, ts and at as JSON numbers, not strings that look like them', () => {
    const token = signToken(SECRET, 3, 'imp_12345678', TS);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ad: '3' }, /ad must be a JSON number/],
      [{ ts: String(token.ts) }, /ts must be a JSON number/],
      [{ at: String(NOW - 1000) }, /at must be a JSON number/],
      [{ ad: true }, /ad must be a JSON number/],
      [{ ts: null }, /ts must be a JSON number/],
    ];
    const { accepted, rejected } = parseBatch(cases.map(([over]) => line(over)).join('\n'), ctx);
    assert.equal(accepted.length, 0);
    assert.equal(rejected.length, cases.length);
    cases.forEach(([, reason], i) => assert.match(rejected[i]!.reason, reason, `line ${i + 1}`));
  });

  it('rejects a ts number that is no canonical issue time', () => {
    const { accepted, rejected } = parseBatch([line({ ts: -1 }), line({ ts: 1.5 })].join('\n'), ctx);
    assert.equal(accepted.length, 0);
    assert.equal(rejected.length, 2);
  });
});
