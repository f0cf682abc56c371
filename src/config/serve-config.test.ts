import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_EVENTS_INFLIGHT_BYTES, parsePublicUrl, parseServeConfig } from './serve-config.js';
import { ConfigError } from './settings.js';

describe('parseServeConfig', () => {
  it('has defaults for everything', () => {
    const config = parseServeConfig([], {});
    assert.notEqual(config, 'help');
    if (config === 'help') return;
    assert.equal(config.http.port, 8080);
    assert.equal(config.http.host, '127.0.0.1');
    assert.equal(config.backends.log, 'file:data/log');
    assert.equal(config.backends.store, 'duckdb:data/adtally.duckdb');
    assert.equal(config.tokens.clickTtlMs, 86_400_000);
    assert.equal(config.allowedLatenessMs, 5000);
    assert.equal(config.backends.archive, 'file:data/archive');
    assert.deepEqual(config.archive, { rollIntervalMs: 60_000, rollBytes: 64 * 1024 * 1024 });
  });

  it('reads the archive roll settings from flags and the environment', () => {
    const config = parseServeConfig(['--archive-roll-interval', '500ms'], {
      ADTALLY_ARCHIVE_ROLL_BYTES: '8388608',
    });
    assert.ok(config !== 'help');
    assert.deepEqual(config.archive, { rollIntervalMs: 500, rollBytes: 8 * 1024 * 1024 });
  });

  it('lets flags win over environment variables', () => {
    const config = parseServeConfig(['--port', '9001', '--data-dir', '/tmp/x'], {
      ADTALLY_PORT: '9000',
      ADTALLY_HOST: '0.0.0.0',
      ADTALLY_CLICK_TTL: '90s',
    });
    assert.ok(config !== 'help');
    assert.equal(config.http.port, 9001);
    assert.equal(config.http.host, '0.0.0.0');
    assert.equal(config.tokens.clickTtlMs, 90_000);
    assert.equal(config.backends.log, 'file:/tmp/x/log');
  });

  const bad: [string, string[], Record<string, string>, RegExp][] = [
    ['an unknown flag', ['--prot', '1'], {}, /prot/],
    ['a positional argument', ['extra'], {}, /extra/],
    ['a port out of range', ['--port', '70000'], {}, /--port: expected a port/],
    [
      'a non-numeric port from the environment',
      [],
      { ADTALLY_PORT: 'http' },
      /ADTALLY_PORT: expected a port/,
    ],
    ['a malformed URL', ['--log', 'not a url'], {}, /--log: "not a url" is not a URL/],
    ['an unsupported scheme', ['--store', 'mysql://x'], {}, /--store: unsupported scheme mysql:/],
    ['a bad duration', ['--click-ttl', 'forever'], {}, /--click-ttl: expected a duration/],
    ['an unknown ADTALLY_ variable', [], { ADTALLY_PROT: '1' }, /unknown environment variable ADTALLY_PROT/],
    ['a short secret', [], { ADTALLY_SECRET: 'short' }, /ADTALLY_SECRET/],
    ['a relative public URL', ['--public-url', 'ads.example.com'], {}, /--public-url: .*not an absolute URL/],
    ['a public URL of another scheme', [], { ADTALLY_PUBLIC_URL: 'ftp://x' }, /ADTALLY_PUBLIC_URL: .*http/],
    ['an in-flight budget below one batch', ['--events-inflight-bytes', '1000'], {}, /at least 1048576/],
    [
      'a roll interval of 0',
      ['--archive-roll-interval', '0s'],
      {},
      /--archive-roll-interval: must be longer than 0/,
    ],
    [
      'a bad roll interval',
      [],
      { ADTALLY_ARCHIVE_ROLL_INTERVAL: 'often' },
      /ADTALLY_ARCHIVE_ROLL_INTERVAL: expected a duration/,
    ],
    [
      'a roll budget below 1 MiB',
      ['--archive-roll-bytes', '65536'],
      {},
      /--archive-roll-bytes: must be at least 1048576/,
    ],
    [
      'a roll budget with a unit',
      ['--archive-roll-bytes', '64MiB'],
      {},
      /--archive-roll-bytes: expected a positive integer/,
    ],
    ['a non-numeric in-flight budget', [], { ADTALLY_EVENTS_INFLIGHT_BYTES: '64MiB' }, /positive integer/],
  ];
  for (const [name, argv, env, message] of bad) {
    it(`refuses ${name} with a one-line reason`, () => {
      assert.throws(
        () => parseServeConfig(argv, env),
        (err: unknown) =>
          err instanceof ConfigError && message.test(err.message) && !err.message.includes('\n'),
      );
    });
  }

  it('answers help', () => {
    assert.equal(parseServeConfig(['--help'], {}), 'help');
  });

  it('reads the public URL and the in-flight budget, with their defaults', () => {
    const defaults = parseServeConfig([], {});
    assert.ok(defaults !== 'help');
    assert.equal(defaults.http.publicUrl, undefined);
    assert.equal(defaults.http.eventsInflightBytes, DEFAULT_EVENTS_INFLIGHT_BYTES);
    const set = parseServeConfig(['--events-inflight-bytes', '2097152'], {
      ADTALLY_PUBLIC_URL: 'https://Ads.Example.com/t/',
    });
    assert.ok(set !== 'help');
    assert.equal(set.http.publicUrl, 'https://ads.example.com/t');
    assert.equal(set.http.eventsInflightBytes, 2_097_152);
  });
});

describe('parsePublicUrl', () => {
  const good: [string, string][] = [
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
    ['https://ads.example.com/', 'https://ads.example.com'],
    ['https://ads.example.com:443/track/', 'https://ads.example.com/track'],
    ['http://[::1]:9000/a/b', 'http://[::1]:9000/a/b'],
  ];
  for (const [raw, expected] of good) {
    it(`takes ${raw} as ${expected}`, () => assert.equal(parsePublicUrl(raw), expected));
  }
  const bad = [
    '',
    'ads.example.com',
    '/track',
    'ftp://ads.example.com',
    'javascript:alert(1)',
    'https://user:pw@ads.example.com',
    'https://ads.example.com/?x=1',
    'https://ads.example.com/#top',
    'http://',
  ];
  for (const raw of bad) {
    it(`refuses ${JSON.stringify(raw)}`, () => assert.equal(typeof parsePublicUrl(raw), 'object'));
  }
});
