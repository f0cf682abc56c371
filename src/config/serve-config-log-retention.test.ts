import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseServeConfig } from './serve-config.js';
import { ConfigError } from './settings.js';

describe('parseServeConfig: event log retention (SPEC 5)', () => {
  it('keeps consumed segments 7 days by default, with no byte cap (as Kafka)', () => {
    const config = parseServeConfig([], {});
    assert.ok(config !== 'help');
    assert.deepEqual(config.logRetention, { ms: 7 * 86_400_000, bytes: undefined });
  });

  it('reads --log-retention as a duration and --log-retention-bytes as bytes, flags over the environment', () => {
    const config = parseServeConfig(['--log-retention', '36h'], {
      ADTALLY_LOG_RETENTION: '1d',
      ADTALLY_LOG_RETENTION_BYTES: '10737418240',
    });
    assert.ok(config !== 'help');
    assert.deepEqual(config.logRetention, { ms: 36 * 3_600_000, bytes: 10_737_418_240 });
  });

  for (const [argv, message] of [
    [['--log-retention', 'a week'], /--log-retention: expected a duration/],
    [['--log-retention-bytes', '0'], /--log-retention-bytes: expected a positive integer/],
    [['--log-retention-bytes', '-1'], /--log-retention-bytes/],
    [['--log-retention-bytes', '10GB'], /--log-retention-bytes: expected a positive integer/],
  ] as const) {
    it(`refuses ${argv.join(' ')}`, () => {
      assert.throws(
        () => parseServeConfig(argv, {}),
        (err: unknown) => err instanceof ConfigError && message.test(err.message),
      );
    });
  }
});
