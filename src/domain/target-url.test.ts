import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTargetUrl } from './target-url.js';

describe('parseTargetUrl', () => {
  for (const good of ['https://example.com/landing?x=1', 'http://shop.test:8080/p']) {
    it(`accepts ${good}`, () => assert.deepEqual(parseTargetUrl(good), { ok: true, url: good }));
  }
  const bad = [
    'javascript:alert(1)',
    '/relative/path',
    'example.com/no-scheme',
    'ftp://files.test/x',
    'data:text/html,hi',
    'https://user:pw@evil.test/',
    '',
    42,
  ];
  for (const value of bad) {
    it(`refuses ${JSON.stringify(value)}`, () => assert.equal(parseTargetUrl(value).ok, false));
  }
});
