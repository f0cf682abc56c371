import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseServeConfig } from './serve-config.js';
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
});
