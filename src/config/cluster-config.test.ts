import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clusterHelp, parseApiConfig, parseCollectorConfig, parseWorkerConfig } from './cluster-config.js';
import { ConfigError } from './settings.js';

const LOG = 'kafka://127.0.0.1:9092/events?partitions=4';
const STORE = 'postgres://postgres@127.0.0.1:5432/adtally';
const SECRET = 'a-secret-of-24-characters';
const ADMIN = 'adm_token_of_more_than_16';

const throwsConfig = (fn: () => unknown, message: RegExp): void => {
  assert.throws(fn, (err: unknown) => err instanceof ConfigError && message.test(err.message));
};

describe('cluster command configuration', () => {
  it('a collector needs the log, the store and the shared secret; it spills under its data dir', () => {
    const config = parseCollectorConfig(['--log', LOG, '--store', STORE, '--data-dir', '/tmp/c1'], {
      ADTALLY_SECRET: SECRET,
    });
    assert.ok(config !== 'help');
    assert.equal(config.kafka.topic, 'events');
    assert.equal(config.kafka.partitions, 4);
    assert.equal(config.spillLog, 'file:/tmp/c1/spill');
    assert.equal(config.produceDeadlineMs, 2_000);
    assert.equal(config.secret, SECRET);
    throwsConfig(
      () => parseCollectorConfig(['--log', LOG, '--store', STORE], {}),
      /ADTALLY_SECRET is required/,
    );
    throwsConfig(
      () => parseCollectorConfig(['--store', STORE], { ADTALLY_SECRET: SECRET }),
      /--log \(or ADTALLY_LOG\) is required/,
    );
  });

  it('a worker archives only when given --archive, with the roll settings of serve', () => {
    const base = ['--log', LOG, '--store', STORE, '--dedup', 'redis://127.0.0.1:6379'];
    const none = parseWorkerConfig(base, {});
    assert.ok(none !== 'help');
    assert.equal(none.archive, undefined);
    const config = parseWorkerConfig(
      [...base, '--archive', 'file:/shared/archive', '--archive-roll-interval', '30s'],
      {
        ADTALLY_ARCHIVE_ROLL_BYTES: '2097152',
      },
    );
    assert.ok(config !== 'help');
    assert.deepEqual(config.archive, {
      url: 'file:/shared/archive',
      rollIntervalMs: 30_000,
      rollBytes: 2_097_152,
    });
    const defaults = parseWorkerConfig([], {
      ADTALLY_LOG: LOG,
      ADTALLY_STORE: STORE,
      ADTALLY_DEDUP: 'redis://r:6379',
      ADTALLY_ARCHIVE: 'file:/a',
    });
    assert.ok(defaults !== 'help');
    assert.deepEqual(defaults.archive, {
      url: 'file:/a',
      rollIntervalMs: 60_000,
      rollBytes: 64 * 1024 * 1024,
    });
    throwsConfig(
      () => parseWorkerConfig([...base, '--archive', 's3://bucket/x'], {}),
      /--archive: unsupported scheme s3:/,
    );
    throwsConfig(
      () => parseWorkerConfig([...base, '--archive-roll-bytes', '1000'], {}),
      /--archive-roll-bytes: must be at least 1048576/,
    );
  });

  it('a collector refuses a produce deadline too close to the allowed lateness', () => {
    throwsConfig(
      () =>
        parseCollectorConfig(['--log', LOG, '--store', STORE, '--produce-deadline', '4500ms'], {
          ADTALLY_SECRET: SECRET,
        }),
      /--produce-deadline \(4500 ms\) must be at least 1s under --allowed-lateness \(5000 ms\)/,
    );
  });

  it('a worker needs the dedup store; its group and session timeout have defaults', () => {
    const config = parseWorkerConfig(
      ['--log', LOG, '--store', STORE, '--dedup', 'redis://127.0.0.1:6379'],
      {},
    );
    assert.ok(config !== 'help');
    assert.equal(config.group, 'adtally-workers');
    assert.equal(config.sessionTimeoutMs, 10_000);
    throwsConfig(() => parseWorkerConfig(['--log', LOG, '--store', STORE], {}), /--dedup .* is required/);
    throwsConfig(
      () => parseWorkerConfig(['--log', LOG, '--store', STORE, '--dedup', 'embedded:'], {}),
      /unsupported scheme embedded:/,
    );
  });

  it('an api needs the admin token', () => {
    const config = parseApiConfig(['--log', LOG, '--store', STORE], { ADTALLY_ADMIN_TOKEN: ADMIN });
    assert.ok(config !== 'help');
    assert.equal(config.adminToken, ADMIN);
    throwsConfig(
      () => parseApiConfig(['--log', LOG, '--store', STORE], {}),
      /ADTALLY_ADMIN_TOKEN is required/,
    );
  });

  it('malformed URLs, unknown flags and unknown ADTALLY_ variables are one-line errors', () => {
    throwsConfig(
      () =>
        parseWorkerConfig(
          ['--log', 'kafka://127.0.0.1/events', '--store', STORE, '--dedup', 'redis://x'],
          {},
        ),
      /invalid event log URL/,
    );
    throwsConfig(
      () => parseApiConfig(['--log', 'file:./log', '--store', STORE], { ADTALLY_ADMIN_TOKEN: ADMIN }),
      /unsupported scheme file:/,
    );
    throwsConfig(() => parseApiConfig(['--bogus'], {}), /bogus/);
    throwsConfig(
      () =>
        parseApiConfig(['--log', LOG, '--store', STORE], { ADTALLY_ADMIN_TOKEN: ADMIN, ADTALLY_GROUP: 'x' }),
      /unknown environment variable ADTALLY_GROUP for adtally api/,
    );
  });

  it('help names every flag and the required secrets', () => {
    assert.match(clusterHelp('collector'), /--produce-deadline/);
    assert.match(clusterHelp('collector'), /required in the environment: ADTALLY_SECRET/);
    assert.match(clusterHelp('worker'), /--session-timeout/);
    assert.equal(parseWorkerConfig(['--help'], {}), 'help');
  });
});
