import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../config/settings.js';
import { MemoryDedupStore } from './memory-dedup-store.js';
import { openDedupStore, parseDedupStoreUrl } from './open-dedup-store.js';

test('embedded and memory: name the in-process store', async () => {
  for (const url of ['embedded', 'embedded:', 'memory', 'memory:']) {
    assert.deepEqual(parseDedupStoreUrl(url), { backend: 'memory' });
  }
  const store = await openDedupStore('memory:');
  assert.ok(store instanceof MemoryDedupStore);
  await store.close();
});

test('redis:// URLs give host, port, db and prefix, with defaults', () => {
  const cases: [string, object][] = [
    ['redis://127.0.0.1:6379', { host: '127.0.0.1', port: 6379, db: 0, prefix: 'adtally:dedup' }],
    ['redis://cache.internal', { host: 'cache.internal', port: 6379, db: 0, prefix: 'adtally:dedup' }],
    ['redis://localhost:7000/3', { host: 'localhost', port: 7000, db: 3, prefix: 'adtally:dedup' }],
    ['redis://h:1/?prefix=prod.eu:dedup', { host: 'h', port: 1, db: 0, prefix: 'prod.eu:dedup' }],
    ['redis://[::1]:6380/2?prefix=a_b-c', { host: '::1', port: 6380, db: 2, prefix: 'a_b-c' }],
    [
      'redis://worker:s%40cret@h:6379',
      { host: 'h', port: 6379, db: 0, prefix: 'adtally:dedup', username: 'worker', password: 's@cret' },
    ],
  ];
  for (const [url, expected] of cases)
    assert.deepEqual(parseDedupStoreUrl(url), { backend: 'redis', ...expected }, url);
});

test('bad dedup URLs are ConfigErrors that say what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['', /unsupported dedup store URL "": expected embedded, memory: or redis:\/\//],
    ['postgres://h/db', /unsupported dedup store URL "postgres:\/\/h\/db"/],
    ['rediss://h:6379', /unsupported/],
    ['redis://', /malformed|host is missing/],
    ['redis://h:0', /port 0 is not in 1\.\.65535/],
    ['redis://h:6379/x', /path "\/x" is not a database number/],
    ['redis://h:6379/1/2', /is not a database number/],
    ['redis://h:6379?db=1', /unknown parameter "db" \(only prefix is accepted\)/],
    ['redis://h:6379?prefix=', /prefix "" must be/],
    ['redis://h:6379?prefix=a b', /prefix "a b" must be/],
    ['redis://h:6379?prefix=a:', /not end with ":"/],
    ['redis://h:6379#x', /fragment/],
  ];
  for (const [url, message] of cases) {
    assert.throws(
      () => parseDedupStoreUrl(url),
      (error: unknown) => error instanceof ConfigError && message.test(error.message),
      url,
    );
  }
});
