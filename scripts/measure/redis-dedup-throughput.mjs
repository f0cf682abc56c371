#!/usr/bin/env node
// Claims/s through the Redis claim script, one client on loopback, awaiting
// one batch after another, for batches of 1, 100 and 1000 claims (and more
// when given), against a fresh redis-server of its own. Two passes per batch
// size: new impressions (SET NX GET writes each) and the same impressions
// again at other positions (duplicates: SET NX GET finds the entry, then
// PEXPIREAT GT). Prints one JSON line per run with claims/s and the batch
// latency p50/p99 (ms). The machine is shared: read the figures as orders of
// magnitude, and compare runs made back to back. `redisUsPerClaim` is the
// time Redis itself spent in the script per claim (INFO commandstats): what
// bounds one Redis core, whatever the client.
// usage: npm run build && node scripts/measure/redis-dedup-throughput.mjs [seconds=3] [batchSizes=1,100,1000]
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisDedupStore } from '../../dist/src/dedup/redis/redis-dedup-store.js';
import { RedisServerProcess } from '../../dist/src/dedup/redis/redis-server-process.js';

const seconds = Number(process.argv[2] ?? 3);
const sizes = (process.argv[3] ?? '1,100,1000').split(',').map(Number);
const server = await RedisServerProcess.start();
const admin = new Redis({ host: '127.0.0.1', port: server.port });
try {
  const store = await RedisDedupStore.open({ host: '127.0.0.1', port: server.port, claimsPerCall: Math.max(...sizes) });
  const expiresAt = Date.now() + 24 * 3_600_000;
  let offset = 0;
  for (const size of sizes) {
    const rounds = [];
    const deadline = performance.now() + seconds * 1000;
    // Pass 1: new impressions, kept for pass 2.
    const written = [];
    const firstPass = await run(size, deadline, () => {
      const imps = Array.from({ length: size }, () => randomBytes(12).toString('base64url'));
      written.push(imps);
      return imps;
    });
    rounds.push({ pass: 'new', ...firstPass });
    let next = 0;
    const secondPass = await run(size, performance.now() + seconds * 1000, () =>
      next < written.length ? written[next++] : undefined,
    );
    rounds.push({ pass: 'duplicate', ...secondPass });
    for (const r of rounds) console.log(JSON.stringify({ batch: size, ...r }));
  }
  await store.close();

  async function run(size, deadline, nextImps) {
    const latencies = [];
    let claims = 0;
    await admin.config('RESETSTAT');
    const started = performance.now();
    while (performance.now() < deadline) {
      const imps = nextImps();
      if (imps === undefined) break;
      const batch = imps.map((imp) => ({ kind: 'click', ad: 7, imp, partition: 0, offset: offset++, expiresAt }));
      const t = performance.now();
      await store.claim(batch);
      latencies.push(performance.now() - t);
      claims += size;
    }
    const elapsed = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const at = (q) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] * 1000) / 1000;
    const stats = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(await admin.info('commandstats'));
    const redisUsPerClaim = stats === null ? null : Math.round((Number(stats[2]) / claims) * 100) / 100;
    return { claims, redisUsPerClaim, claimsPerSecond: Math.round(claims / elapsed), p50Ms: at(0.5), p99Ms: at(0.99) };
  }
} finally {
  admin.disconnect();
  await server.kill();
}
