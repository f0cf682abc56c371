#!/usr/bin/env node
// Redis memory per dedup entry: writes `n` realistic claims through the real
// claim script (RedisDedupStore, batches of 1000) into a fresh redis-server of
// its own (free port, no persistence) and prints used_memory delta / n as one
// JSON line. Keys as in production: default prefix, imp ids of 16-22 base64url
// characters, ads 1..100,000, positions on 12 partitions at 9-10 digit
// offsets, a 24 h TTL; `clickShare` of the entries are clicks.
// usage: npm run build && node scripts/measure/redis-dedup-memory.mjs [n=1000000] [clickShare=0.5]
import { randomBytes, randomInt } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisDedupStore } from '../../dist/src/dedup/redis/redis-dedup-store.js';
import { RedisServerProcess } from '../../dist/src/dedup/redis/redis-server-process.js';

const n = Number(process.argv[2] ?? 1_000_000);
const clickShare = Number(process.argv[3] ?? 0.5);
const PARTITIONS = 12;
const server = await RedisServerProcess.start();
const admin = new Redis({ host: '127.0.0.1', port: server.port });
try {
  const store = await RedisDedupStore.open({ host: '127.0.0.1', port: server.port });
  const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await admin.info('memory'))[1]);
  const before = await usedMemory();
  const expiresAt = Date.now() + 24 * 3_600_000 + 65_000;
  const offsets = Array.from({ length: PARTITIONS }, () => 900_000_000 + randomInt(200_000_000));
  let keyBytes = 0;
  let valueBytes = 0;
  let firsts = 0;
  const started = performance.now();
  for (let written = 0; written < n; ) {
    const size = Math.min(1000, n - written);
    const claims = new Array(size);
    for (let i = 0; i < size; i++) {
      const partition = randomInt(PARTITIONS);
      const imp = randomBytes(17).toString('base64url').slice(0, 16 + randomInt(7));
      const claim = {
        kind: Math.random() < clickShare ? 'click' : 'impression',
        ad: 1 + randomInt(100_000),
        imp,
        partition,
        offset: offsets[partition]++,
        expiresAt,
      };
      keyBytes += 'adtally:dedup:i:'.length + String(claim.ad).length + 1 + imp.length;
      valueBytes += `${partition}:${claim.offset}`.length;
      claims[i] = claim;
    }
    for (const d of await store.claim(claims)) if (d === 'first') firsts++;
    written += size;
  }
  const seconds = (performance.now() - started) / 1000;
  const after = await usedMemory();
  const keys = Number(/keys=(\d+)/.exec(await admin.info('keyspace'))?.[1] ?? 0);
  const sample = await admin.randomkey();
  console.log(
    JSON.stringify({
      n,
      keys,
      firsts,
      usedMemoryBefore: before,
      usedMemoryAfter: after,
      bytesPerKey: Math.round(((after - before) / n) * 10) / 10,
      meanKeyBytes: Math.round((keyBytes / n) * 10) / 10,
      meanValueBytes: Math.round((valueBytes / n) * 10) / 10,
      memoryUsageOfOneKey: { key: sample, bytes: await admin.memory('USAGE', sample) },
      claimsPerSecond: Math.round(n / seconds),
      redis: /redis_version:(\S+)/.exec(await admin.info('server'))[1],
    }),
  );
  await store.close();
} finally {
  admin.disconnect();
  await server.kill();
}
