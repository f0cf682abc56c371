#!/usr/bin/env node
// Background clicks for the query measurement, in its own process so the
// query client's event loop stays clean: valid clicks on ads 1..ads, open
// loop at `rate` clicks/s over `connections`, with the benchmark's own load
// client, until SIGTERM; then prints one JSON line of what it achieved.
// usage: node scripts/measure/click-load.mjs <url> <rate> <ads> [connections=64]
import { BROWSER_HEADER, driveRequests, trackingPaths } from '../../dist/src/bench/request-load.js';
import { TEST_SECRET } from '../../dist/test/support/adtally-process.js';

const [url, rateArg, adsArg, connArg] = process.argv.slice(2);
const adIds = Array.from({ length: Number(adsArg) }, (_, i) => i + 1);
let running = true;
process.on('SIGTERM', () => (running = false));

const nextPath = trackingPaths('click', adIds, TEST_SECRET);
const chunks = [];
// One-second stretches, so a SIGTERM ends the load within a second.
while (running) {
  chunks.push(
    await driveRequests(url, {
      nextPath,
      headerLines: BROWSER_HEADER,
      expectStatus: 302,
      rate: Number(rateArg),
      durationMs: 1_000,
      connections: Number(connArg ?? 64),
      timeoutMs: 10_000,
    }),
  );
}
const sum = (pick) => chunks.reduce((n, c) => n + pick(c), 0);
const seconds = sum((c) => c.elapsedMs) / 1000;
console.log(
  JSON.stringify({
    clicksPerSecond: Math.round(sum((c) => c.answered) / seconds),
    answered: sum((c) => c.answered),
    errors: sum((c) => c.failed),
    worstChunkP99: Math.max(...chunks.map((c) => c.p99)),
  }),
);
