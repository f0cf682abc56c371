import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../config/settings.js';
import { parseServingStoreUrl } from './open-store.js';
import { DEFAULT_POOL, parsePostgresUrl } from './postgres/postgres-url.js';

describe('serving store URLs', () => {
  it('reads postgres:// and postgresql:// with their pool and timeouts, and passes the rest to pg', () => {
    assert.deepEqual(parsePostgresUrl('postgres://postgres@127.0.0.1:5432/adtally'), {
      connectionString: 'postgres://postgres@127.0.0.1:5432/adtally',
      pool: DEFAULT_POOL,
      connectTimeoutMs: 5_000,
      statementTimeoutMs: 10_000,
    });
    assert.deepEqual(
      parsePostgresUrl(
        'postgresql://u:p@db:6000/ads?pool=3&sslmode=require&statement_timeout_ms=250&connect_timeout_ms=900',
      ),
      {
        connectionString: 'postgresql://u:p@db:6000/ads?sslmode=require',
        pool: 3,
        connectTimeoutMs: 900,
        statementTimeoutMs: 250,
      },
    );
    assert.deepEqual(parseServingStoreUrl('postgres://h/db?pool=2'), {
      backend: 'postgres',
      url: 'postgres://h/db?pool=2',
    });
    assert.equal(parseServingStoreUrl('duckdb:/tmp/x.duckdb').backend, 'duckdb');
  });

  for (const [url, message] of [
    ['postgres://h/db?pool=0', /pool=0 is not a whole number in \[1, 100\]/],
    ['postgres://h/db?pool=many', /pool=many/],
    ['postgres://h/db?pol=4', /unknown parameter "pol"/],
    ['postgres://h/', /must name one database/],
    ['postgres://h/a/b', /must name one database/],
    ['postgres://', /malformed|names no host/],
    ['postgres://h:99999/db', /malformed/],
    ['postgres:h/db', /not a postgres:\/\/ or postgresql:\/\/ URL/],
    ['mysql://h/db', /unsupported store URL/],
    ['duckdb:', /names no path/],
  ] as const) {
    it(`refuses ${url} with a clear error`, () => {
      assert.throws(
        () => parseServingStoreUrl(url),
        (err: unknown) => err instanceof ConfigError && message.test(err.message),
      );
    });
  }
});
