import type { Redis } from 'ioredis';

/**
 * Refuses a Redis the dedup store cannot rely on, at open rather than at the
 * first wrong answer:
 * - older than 7.0: the script needs SET NX GET and PEXPIREAT GT;
 * - one that may evict keys (maxmemory set with a policy other than
 *   noeviction): an evicted entry is a duplicate counted again, silently.
 *   Under noeviction a full Redis refuses the script instead (a retriable
 *   fault), and the TTL alone frees memory.
 */
export async function checkRedisServer(client: Redis, where: string): Promise<void> {
  const info = parseInfo(await client.info('server'), await client.info('memory'));
  const version = info.get('redis_version') ?? '';
  const [major] = version.split('.').map(Number);
  if (major === undefined || !(major >= 7)) {
    throw new Error(
      `the Redis at ${where} is version ${version || 'unknown'}; the dedup store needs Redis 7.0 or later`,
    );
  }
  const maxmemory = Number(info.get('maxmemory') ?? '0');
  const policy = info.get('maxmemory_policy') ?? 'noeviction';
  if (maxmemory > 0 && policy !== 'noeviction') {
    throw new Error(
      `the Redis at ${where} evicts keys at maxmemory (maxmemory-policy ${policy}): an evicted dedup entry would ` +
        'count a duplicate again; set maxmemory-policy noeviction (or maxmemory 0)',
    );
  }
}

function parseInfo(...sections: string[]): Map<string, string> {
  const fields = new Map<string, string>();
  for (const section of sections) {
    for (const line of section.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
    }
  }
  return fields;
}
