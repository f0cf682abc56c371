#!/usr/bin/env node
// Click-to-queryable latency: sends a fresh click, then polls the ad's
// aggregates every 5 ms until it is counted; repeated N times while 8 loops
// send background clicks on another ad.
// usage: npm run build && node scripts/measure/freshness.mjs [samples=100]
import { rmSync } from 'node:fs';
import {
  AdtallyProcess,
  TEST_ADMIN_TOKEN,
  CHROME_UA,
  adminApi,
  makeDataDir,
  tokenQuery,
} from '../../dist/test/support/adtally-process.js';
import { Agent, request } from 'node:http';
const dir = makeDataDir('fresh-');
const server = await AdtallyProcess.start(dir);
const { adIds } = await adminApi(server.url).seed(2);
const agent = new Agent({ keepAlive: true, maxSockets: 16 });
const get = (path, headers = {}) =>
  new Promise((resolve, reject) => {
    const req = request(
      `${server.url}${path}`,
      {
        agent,
        headers: { 'user-agent': CHROME_UA, authorization: `Bearer ${TEST_ADMIN_TOKEN}`, ...headers },
      },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
// background load on ad 2: ~8 concurrent loops of clicks
let running = true,
  bg = 0;
const loops = Array.from({ length: 8 }, async (_, k) => {
  let i = 0;
  while (running) {
    await get(`/click?${tokenQuery(adIds[1], `bg_${k}_${String(i++).padStart(8, '0')}`)}`);
    bg++;
  }
});
const clicksOf = async () => {
  const r = await get(`/api/v1/ads/${adIds[0]}/aggregates`);
  return JSON.parse(r.body).totals.clicks;
};
const lat = [];
const t0 = performance.now();
for (let n = 0; n < Number(process.argv[2] ?? 100); n++) {
  const before = await clicksOf();
  const r = await get(`/click?${tokenQuery(adIds[0], `fresh_${String(n).padStart(8, '0')}`)}`);
  if (r.status !== 302) throw new Error(String(r.status));
  const t302 = performance.now();
  for (;;) {
    if ((await clicksOf()) > before) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  lat.push(performance.now() - t302);
}
const secs = (performance.now() - t0) / 1000;
running = false;
await Promise.all(loops);
lat.sort((a, b) => a - b);
const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(0);
console.log(
  `click-to-queryable over ${lat.length} clicks with ~${(bg / secs).toFixed(0)} background clicks/s: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms`,
);
agent.destroy();
await server.stop();
rmSync(dir, { recursive: true, force: true });
