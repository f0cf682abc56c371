import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyOutcome, isPrefetch, requestPurpose } from './outcome.js';
import { classifyUserAgent } from './user-agent.js';

const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

describe('classifyOutcome', () => {
  const base = { knownAd: true, token: 'valid', userAgent: 'browser', prefetch: false } as const;
  const table: [string, Partial<Parameters<typeof classifyOutcome>[0]>, string][] = [
    ['a valid browser click', {}, 'ok'],
    [
      'an unknown ad, whatever else',
      { knownAd: false, token: 'bad_signature', userAgent: 'bot' },
      'unknown_ad',
    ],
    [
      'a bad signature, over everything else',
      { token: 'bad_signature', userAgent: 'bot', prefetch: true },
      'bad_signature',
    ],
    [
      'an expired token, over bot and prefetch',
      { token: 'expired', userAgent: 'bot', prefetch: true },
      'expired',
    ],
    ['a bot', { userAgent: 'bot' }, 'bot'],
    ['no user agent at all', { userAgent: 'empty' }, 'bot'],
    ['a bot that prefetches', { userAgent: 'bot', prefetch: true }, 'bot'],
    ['a prefetch', { prefetch: true }, 'prefetch'],
    ['a server-to-server event', { userAgent: 'server' }, 'ok'],
  ];
  for (const [name, override, expected] of table) {
    it(`${name} -> ${expected}`, () => {
      assert.equal(classifyOutcome({ ...base, ...override }), expected);
    });
  }
});

describe('isPrefetch', () => {
  it('flags HEAD and the prefetch/prerender headers', () => {
    assert.equal(isPrefetch({ method: 'HEAD' }), true);
    assert.equal(isPrefetch({ method: 'GET', secPurpose: 'prefetch' }), true);
    assert.equal(isPrefetch({ method: 'GET', secPurpose: 'prefetch;prerender' }), true);
    assert.equal(isPrefetch({ method: 'GET', purpose: 'prefetch' }), true);
    assert.equal(isPrefetch({ method: 'GET', xMoz: 'prefetch' }), true);
  });
  it('does not flag an ordinary GET', () => {
    assert.equal(isPrefetch({ method: 'GET' }), false);
    assert.equal(isPrefetch({ method: 'GET', secPurpose: '' }), false);
  });
});

describe('requestPurpose', () => {
  const cases: [Parameters<typeof requestPurpose>[0], ReturnType<typeof requestPurpose>][] = [
    [{ method: 'GET' }, 'navigation'],
    [{ method: 'GET', secPurpose: '' }, 'navigation'],
    [{ method: 'GET', purpose: 'navigate' }, 'navigation'],
    [{ method: 'HEAD' }, 'head'],
    [{ method: 'GET', secPurpose: 'prefetch' }, 'speculative'],
    [{ method: 'GET', secPurpose: 'prefetch;prerender' }, 'speculative'],
    [{ method: 'GET', secPurpose: 'prefetch; anonymous-client-ip' }, 'speculative'],
    [{ method: 'GET', purpose: 'prefetch' }, 'speculative'],
    [{ method: 'GET', purpose: 'Prerender' }, 'speculative'],
    [{ method: 'GET', xMoz: 'prefetch' }, 'speculative'],
    [{ method: 'HEAD', secPurpose: 'prefetch' }, 'speculative'],
  ];
  for (const [signals, expected] of cases) {
    it(`${JSON.stringify(signals)} -> ${expected}`, () => assert.equal(requestPurpose(signals), expected));
  }
});

describe('classifyUserAgent', () => {
  it('knows browsers, crawlers and link-preview fetchers', () => {
    assert.equal(classifyUserAgent(CHROME), 'browser');
    assert.equal(
      classifyUserAgent(
        'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1',
      ),
      'browser',
    );
    assert.equal(
      classifyUserAgent('Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'),
      'bot',
    );
    assert.equal(classifyUserAgent('Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)'), 'bot');
    assert.equal(
      classifyUserAgent('facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)'),
      'bot',
    );
    assert.equal(classifyUserAgent('curl/8.5.0'), 'bot');
  });
  it('separates a missing user agent', () => {
    assert.equal(classifyUserAgent(undefined), 'empty');
    assert.equal(classifyUserAgent('  '), 'empty');
  });
});
