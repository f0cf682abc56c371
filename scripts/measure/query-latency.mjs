#!/usr/bin/env node
// 24-hour minute series latency over HTTP with 10,000 ads x 1,440 minutes
// stored: seeds a fresh data dir, starts adtally serve on it, waits for the
// minute index to load, runs N sequential queries for random ads; with
// --ingest, while scripts/measure/click-load.mjs (its own process) sends
// that many clicks/s on the same ads; with --rate, queries are paced to that
// many a second (an open loop) instead of sent back to back.
// usage: npm run build && node scripts/measure/query-latency.mjs [queries=300] [--ingest CLICKS_PER_S] [--connections N] [--rate QUERIES_PER_S]
import { fork } from 'node:child_process';
import { rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { seedStore } from '../../dist/src/bench/seed-store.js';
import { AdtallyProcess, TEST_ADMIN_TOKEN, makeDataDir } from '../../dist/test/support/adtally-process.js';

const ADS = 10_000;
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    ingest: { type: 'string', default: '0' },
    connections: { type: 'string', default: '64' },
    rate: { type: 'string', default: '0' },
  },
});
const queries = Number(positionals[0] ?? 300);
const ingestRate = Number(values.ingest);
const queryRate = Number(values.rate);

const dir = makeDataDir('qbench-');
let t = performance.now();
const { lastMinute } = await seedStore(`${dir}/adtally.duckdb`, ADS, 1440);
console.log('seeded 14.4M rows in', ((performance.now() - t) / 1000).toFixed(1), 's');
const server = await AdtallyProcess.start(dir);
t = performance.now();
while (!/minute index loaded|minute index off/.test(server.log)) {
  if (performance.now() - t > 120_000) throw new Error(`no minute index line:\n${server.log}`);
  await new Promise((r) => setTimeout(r, 100));
}
console.log(server.log.split('\n').find((l) => /minute index/.test(l)));
const agent = new Agent({ keepAlive: true, maxSockets: 4 });
const to = new Date((lastMinute + 1) * 60000).toISOString();
const from = new Date((lastMinute + 1 - 1440) * 60000).toISOString();
/** GET with the admin token; the body is decoded only when asked for or not a 200 (it is 370 KB). */
function get(path, decode = false) {
  return new Promise((resolve, reject) => {
    const s = performance.now();
    const req = request(
      `${server.url}${path}`,
      { agent, headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const ms = performance.now() - s;
          const body = decode || res.statusCode !== 200 ? Buffer.concat(chunks).toString() : '';
          resolve({ ms, status: res.statusCode, body });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}
/** From /metrics: the store flush histogram's count and sum, and the server-side buckets of the series route. */
async function metrics() {
  const text = (await get('/metrics', true)).body;
  const value = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  const handled = {};
  for (const line of text.split('\n')) {
    if (
      !line.startsWith('adtally_http_request_duration_seconds_bucket{') ||
      !line.includes('route="ad_aggregates"')
    )
      continue;
    handled[/le="([^"]+)"/.exec(line)[1]] = Number(line.split(' ').pop());
  }
  return {
    rssMb: Math.round(value('adtally_process_resident_memory_bytes') / 1e6),
    count: value('adtally_store_flush_duration_seconds_count'),
    sum: value('adtally_store_flush_duration_seconds_sum'),
    handled,
  };
}
const first = await get(`/api/v1/ads/1/aggregates?from=${from}&to=${to}`, true);
const j = JSON.parse(first.body);
console.log('status', first.status, 'buckets', j.series.length, 'clicks', j.totals.clicks);

let load;
if (ingestRate > 0) {
  const script = new URL('./click-load.mjs', import.meta.url).pathname;
  load = fork(script, [server.url, String(ingestRate), String(ADS), values.connections], { stdio: 'pipe' });
  await new Promise((r) => setTimeout(r, 2000)); // the load reaches its pace before the first query
}
const before = await metrics();
const times = [];
const started = performance.now();
for (let i = 0; i < queries; i++) {
  if (queryRate > 0) {
    const wait = started + (i * 1000) / queryRate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  const ad = 1 + Math.floor(Math.random() * ADS);
  const r = await get(`/api/v1/ads/${ad}/aggregates?from=${from}&to=${to}`);
  if (r.status !== 200) throw new Error(r.body);
  times.push(r.ms);
}
const elapsed = (performance.now() - started) / 1000;
const after = await metrics();
if (load !== undefined) {
  let report = '';
  load.stdout.on('data', (c) => (report += c));
  load.kill('SIGTERM');
  await new Promise((r) => load.once('exit', r));
  console.log('ingest', report.trim());
}
const commits = after.count - before.count;
console.log(`serve's resident memory: ${after.rssMb} MB`);
console.log(
  `store commits during the queries: ${commits} in ${elapsed.toFixed(1)} s, mean ${((1000 * (after.sum - before.sum)) / Math.max(1, commits)).toFixed(1)} ms`,
);
const served = (le) => (after.handled[le] ?? 0) - (before.handled[le] ?? 0);
console.log(
  `handled in the server (request to answer written): ${['0.001', '0.002', '0.005', '0.01']
    .map((le) => `${((100 * served(le)) / queries).toFixed(1)}% <= ${Number(le) * 1000} ms`)
    .join(', ')}`,
);
times.sort((a, b) => a - b);
const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(2);
console.log(
  `24h minute series, ${times.length} ${queryRate > 0 ? `queries at ${queryRate}/s` : 'sequential queries'}${ingestRate > 0 ? ` under --ingest ${ingestRate}` : ''}: p50 ${q(0.5)} ms, p90 ${q(0.9)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms`,
);
agent.destroy();
await server.stop();
rmSync(dir, { recursive: true, force: true });
