import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SQL_LIMITS } from '../analytics/sql-limits.js';
import { parseApiConfig, parseWorkerConfig } from './cluster-config.js';
import { parseServeConfig } from './serve-config.js';
import { ConfigError } from './settings.js';

const LOG = 'kafka://127.0.0.1:9092/events?partitions=4';
const STORE = 'postgres://postgres@127.0.0.1:5432/adtally';
const ADMIN = { ADTALLY_ADMIN_TOKEN: 'adm_token_of_more_than_16' };

describe('analytical SQL settings (serve and api)', () => {
  it('have defaults', () => {
    const serve = parseServeConfig([], {});
    assert.ok(serve !== 'help');
    assert.deepEqual(serve.sql, DEFAULT_SQL_LIMITS);
    const api = parseApiConfig(['--log', LOG, '--store', STORE, '--data-dir', '/srv/a'], ADMIN);
    assert.ok(api !== 'help');
    assert.deepEqual(api.sql, DEFAULT_SQL_LIMITS);
    assert.equal(api.archive, 'file:/srv/a/archive');
  });

  it('read flags and environment variables, flags winning', () => {
    const serve = parseServeConfig(['--sql-timeout', '30s', '--sql-row-limit', '500', '--sql-threads', '2'], {
      ADTALLY_SQL_ROW_LIMIT: '9',
      ADTALLY_SQL_CONCURRENCY: '4',
      ADTALLY_SQL_MEMORY_MB: '512',
      ADTALLY_SQL_MATERIALISE_ROWS: '1000',
    });
    assert.ok(serve !== 'help');
    assert.deepEqual(serve.sql, {
      timeoutMs: 30_000,
      rowLimit: 500,
      materialiseRows: 1000,
      concurrency: 4,
      memoryMb: 512,
      threads: 2,
    });
    const api = parseApiConfig(
      ['--log', LOG, '--store', STORE, '--archive', 'file:/shared/archive', '--sql-timeout', '2s'],
      ADMIN,
    );
    assert.ok(api !== 'help');
    assert.equal(api.archive, 'file:/shared/archive');
    assert.equal(api.sql.timeoutMs, 2000);
  });

  const bad: [string, string[], Record<string, string>, RegExp][] = [
    ['a bad timeout', ['--sql-timeout', 'soon'], {}, /--sql-timeout: expected a duration/],
    [
      'a zero row limit',
      ['--sql-row-limit', '0'],
      {},
      /--sql-row-limit: expected an integer from 1 to 10000000/,
    ],
    [
      'a fractional budget',
      [],
      { ADTALLY_SQL_MATERIALISE_ROWS: '1.5' },
      /ADTALLY_SQL_MATERIALISE_ROWS: expected an integer/,
    ],
    [
      'too many slots',
      ['--sql-concurrency', '1000'],
      {},
      /--sql-concurrency: expected an integer from 1 to 64/,
    ],
    ['too little memory', ['--sql-memory-mb', '8'], {}, /--sql-memory-mb: expected an integer from 16/],
    ['no threads', ['--sql-threads', '0'], {}, /--sql-threads: expected an integer from 1 to 64/],
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

  it('api takes a file: archive only; a worker has no SQL flags', () => {
    assert.throws(
      () => parseApiConfig(['--log', LOG, '--store', STORE, '--archive', 's3://bucket/x'], ADMIN),
      /--archive: unsupported scheme s3:/,
    );
    assert.throws(
      () =>
        parseWorkerConfig(
          ['--log', LOG, '--store', STORE, '--dedup', 'redis://x:1', '--sql-timeout', '1s'],
          {},
        ),
      /sql-timeout/,
    );
  });
});
