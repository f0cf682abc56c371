#!/usr/bin/env node
// Background clicks for the query measurement, in its own process so the
// query client's event loop stays clean: `connections` keep-alive loops
// send valid /click requests on random ads 1..ads, paced to `rate` clicks/s
// in total, until SIGTERM; then prints one JSON line of what it achieved.
// usage: node scripts/measure/click-load.mjs <url> <rate> <ads> [connections=64]
import { Agent, request } from 'node:http';
import { CHROME_UA, tokenQuery } from '../../dist/test/support/adtally-process.js';

const [url, rateArg, adsArg, connArg] = process.argv.slice(2);
const rate = Number(rateArg);
const ads = Number(adsArg);
const connections = Number(connArg ?? 64);
const agent = new Agent({ keepAlive: true, maxSockets: connections });
const latencies = [];
let sent = 0;
let errors = 0;
let running = true;
process.on('SIGTERM', () => (running = false));

function click(i) {
  const ad = 1 + Math.floor(Math.random() * ads);
  const path = `/click?${tokenQuery(ad, `load_${process.pid}_${String(i).padStart(10, '0')}`)}`;
  return new Promise((resolve) => {
    const started = performance.now();
    const req = request(`${url}${path}`, { agent, headers: { 'user-agent': CHROME_UA } }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode === 302) latencies.push(performance.now() - started);
        else errors++;
        resolve();
      });
    });
    req.on('error', () => {
      errors++;
      resolve();
    });
    req.end();
  });
}

const t0 = performance.now();
// Each loop sends one click at a time and sleeps when ahead of its share of the schedule.
await Promise.all(
  Array.from({ length: connections }, async () => {
    while (running) {
      const due = t0 + (sent / rate) * 1000;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      await click(sent++);
    }
  }),
);
const seconds = (performance.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
console.log(
  JSON.stringify({
    clicksPerSecond: Math.round(latencies.length / seconds),
    answered: latencies.length,
    errors,
    p50: +q(0.5).toFixed(2),
    p99: +q(0.99).toFixed(2),
  }),
);
agent.destroy();
