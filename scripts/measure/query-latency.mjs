#!/usr/bin/env node
// 24-hour minute series latency over HTTP with 10,000 ads x 1,440 minutes
// stored: seeds a fresh data dir, starts adtally serve on it, runs N
// sequential queries for random ads.
// usage: npm run build && node scripts/measure/query-latency.mjs [queries=300]
import { rmSync } from 'node:fs';
import { seedStore } from '../../dist/src/bench/seed-store.js';
import { AdtallyProcess, TEST_ADMIN_TOKEN, makeDataDir } from '../../dist/test/support/adtally-process.js';
import { Agent, request } from 'node:http';
const dir = makeDataDir('qbench-');
let t = performance.now();
const { lastMinute } = await seedStore(`${dir}/adtally.duckdb`, 10000, 1440);
console.log('seeded 14.4M rows in', ((performance.now() - t) / 1000).toFixed(1), 's');
const server = await AdtallyProcess.start(dir);
const agent = new Agent({ keepAlive: true, maxSockets: 4 });
const to = new Date((lastMinute + 1) * 60000).toISOString();
const from = new Date((lastMinute + 1 - 1440) * 60000).toISOString();
function get(path) {
  return new Promise((resolve, reject) => {
    const s = performance.now();
    const req = request(
      `${server.url}${path}`,
      { agent, headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ ms: performance.now() - s, status: res.statusCode, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}
const first = await get(`/api/v1/ads/1/aggregates?from=${from}&to=${to}`);
const j = JSON.parse(first.body);
console.log('status', first.status, 'buckets', j.series.length, 'clicks', j.totals.clicks);
const times = [];
for (let i = 0; i < Number(process.argv[2] ?? 300); i++) {
  const ad = 1 + Math.floor(Math.random() * 10000);
  const r = await get(`/api/v1/ads/${ad}/aggregates?from=${from}&to=${to}`);
  if (r.status !== 200) throw new Error(r.body);
  times.push(r.ms);
}
times.sort((a, b) => a - b);
const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(2);
console.log(
  `24h minute series, ${times.length} sequential queries: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms`,
);
agent.destroy();
await server.stop();
rmSync(dir, { recursive: true, force: true });
