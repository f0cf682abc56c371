import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { parseDedupStoreUrl } from '../open-dedup-store.js';

/** The shared Redis of the tests: 127.0.0.1:6379 unless ADTALLY_TEST_REDIS names another. */
export const TEST_REDIS_URL = process.env['ADTALLY_TEST_REDIS'] ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test run uses, so parallel runs never share entries. */
export function uniqueTestPrefix(): string {
  return `adtally:test:${randomBytes(6)
    .toString('base64url')
    .replace(/[^A-Za-z0-9]/g, 'x')}`;
}

/** `TEST_REDIS_URL` (or `base`) with `?prefix=`. */
export function urlWithPrefix(prefix: string, base = TEST_REDIS_URL): string {
  const url = new URL(base);
  url.searchParams.set('prefix', prefix);
  return url.toString();
}

/** Deletes every key under the prefixes (`<prefix>:*`); returns how many. */
export async function deleteKeysUnder(prefixes: readonly string[], base = TEST_REDIS_URL): Promise<number> {
  const location = parseDedupStoreUrl(base);
  if (location.backend !== 'redis') throw new Error(`${base} is not a redis:// URL`);
  const client = new Redis({ host: location.host, port: location.port, db: location.db, lazyConnect: true });
  await client.connect();
  let deleted = 0;
  try {
    for (const prefix of prefixes) {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) deleted += await client.unlink(...keys);
      } while (cursor !== '0');
    }
  } finally {
    client.disconnect();
  }
  return deleted;
}
