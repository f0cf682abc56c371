#!/usr/bin/env node
// The dashboard's figures for issue 11 (docs/DASHBOARD.md, "Measured"): page weight, time to first
// chart on a 24 h range over a store of 10,000 ads x 1,440 minutes, and the live stream's fan-out
// (clients held, click-to-event delay). Run after `npm run build`:
//   node scripts/measure/dashboard.mjs [--clients 1000] [--clicks 50]
/* global document, sessionStorage -- the functions passed to page.evaluate run in the page */
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { seedStore } from '../../dist/src/bench/seed-store.js';
import {
  AdtallyProcess,
  CHROME_UA,
  TEST_ADMIN_TOKEN,
  adminApi,
  makeDataDir,
  removeDir,
  tokenQuery,
} from '../../dist/test/support/adtally-process.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000' },
    clicks: { type: 'string', default: '50' },
    // `sse` skips the seeded store (a minute of seeding) and measures the stream only.
    only: { type: 'string' },
  },
});
const root = join(import.meta.dirname, '..', '..');
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

function pageWeight() {
  const dir = join(root, 'dist', 'ui', 'assets');
  const out = { js: { raw: 0, gzip: 0 }, css: { raw: 0, gzip: 0 } };
  for (const name of readdirSync(dir)) {
    const kind = name.endsWith('.js') ? 'js' : name.endsWith('.css') ? 'css' : undefined;
    if (kind === undefined) continue;
    const body = readFileSync(join(dir, name));
    out[kind].raw += body.length;
    out[kind].gzip += gzipSync(body, { level: 9 }).length;
  }
  return out;
}

async function firstChart(browser) {
  const dir = makeDataDir('adtally-measure-ui-');
  try {
    const seeding = performance.now();
    await seedStore(join(dir, 'adtally.duckdb'), 10_000, 1_440);
    console.error(`seeded 10,000 ads x 1,440 minutes in ${((performance.now() - seeding) / 1000).toFixed(1)} s`);
    const server = await AdtallyProcess.start(dir);
    try {
      for (let i = 0; i < 600 && !/minute index (loaded|off)/.test(server.log); i++) await new Promise((r) => setTimeout(r, 100));
      const results = {};
      // The admin on the campaign of all 10,000 ads, and one ad, each on the last 24 h by minute.
      for (const [label, subject] of [['campaign of 10,000 ads', 'campaign:1'], ['one ad', 'ad:1']]) {
        const times = [];
        for (let run = 0; run < 5; run++) {
          const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
          await context.addInitScript(
            ([token, view]) => {
              sessionStorage.setItem('adtally.token', token);
              sessionStorage.setItem('adtally.view', view);
            },
            [TEST_ADMIN_TOKEN, JSON.stringify({ subject, range: '24h', granularity: 'minute' })],
          );
          const page = await context.newPage();
          await page.goto(`${server.url}/`);
          await page.waitForFunction(() => document.querySelector('#bucket-count')?.textContent === '1440 x minute' && document.querySelector('#traffic-chart canvas') !== null);
          // From navigation start to the chart drawn with the 1,440 buckets.
          times.push(await page.evaluate(() => performance.now()));
          await context.close();
        }
        times.sort((a, b) => a - b);
        results[label] = { median_ms: Math.round(quantile(times, 0.5)), max_ms: Math.round(times.at(-1)), runs: times.length };
      }
      return results;
    } finally {
      await server.stop();
    }
  } finally {
    removeDir(dir);
  }
}

/** Opens `n` streams, sends `clicks` clicks one by one, and times each event's arrival after its click's 302. */
async function fanOut(n, clicks) {
  const dir = makeDataDir('adtally-measure-sse-');
  const server = await AdtallyProcess.start(dir);
  try {
    const { apiKey, adIds } = await adminApi(server.url).seed(1, 'Fanout');
    const url = new URL(server.url);
    const arrivals = [];
    let clickAt = 0;
    const sockets = [];
    await Promise.all(
      Array.from({ length: n }, () =>
        new Promise((resolve, reject) => {
          const req = request(
            { host: url.hostname, port: url.port, path: '/api/v1/stream', headers: { authorization: `Bearer ${apiKey}` } },
            (res) => {
              if (res.statusCode !== 200) return reject(new Error(`stream answered ${res.statusCode}`));
              res.setEncoding('utf8');
              res.on('data', (chunk) => {
                if (chunk.includes('event: commit')) arrivals.push(performance.now() - clickAt);
              });
              sockets.push(res);
              resolve();
            },
          );
          req.on('error', reject);
          req.end();
        }),
      ),
    );
    const over = await fetch(`${server.url}/api/v1/stream`, { headers: { authorization: `Bearer ${apiKey}` } });
    const refusedPastBound = over.status;
    await over.body?.cancel();
    const metricsBefore = await (await fetch(`${server.url}/metrics`)).text();
    const rss = Number(/adtally_process_resident_memory_bytes (\d+)/.exec(metricsBefore)?.[1] ?? 0);
    const perClick = [];
    // How long one commit's event takes to reach every stream: last arrival minus first.
    const spreads = [];
    for (let i = 0; i < clicks; i++) {
      const seen = arrivals.length;
      const res = await fetch(`${server.url}/click?${tokenQuery(adIds[0], `imp_fanout_${String(i).padStart(4, '0')}`)}`, {
        redirect: 'manual',
        headers: { 'user-agent': CHROME_UA },
      });
      clickAt = performance.now();
      if (res.status !== 302) throw new Error(`click answered ${res.status}`);
      for (let w = 0; w < 300 && arrivals.length < seen + n; w++) await new Promise((r) => setTimeout(r, 5));
      perClick.push(arrivals.length - seen);
      const mine = arrivals.slice(seen);
      if (mine.length > 0) spreads.push(Math.max(...mine) - Math.min(...mine));
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const s of sockets) s.destroy();
    const sorted = arrivals.slice().sort((a, b) => a - b);
    return {
      clients_held: n,
      status_past_bound: refusedPastBound,
      serve_rss_mb_with_clients: Math.round(rss / 1e6),
      clicks,
      events_received: arrivals.length,
      every_client_got_every_click: perClick.every((c) => c >= n),
      first_to_last_stream_ms: {
        p50: +quantile(spreads.sort((a, b) => a - b), 0.5).toFixed(1),
        p99: +quantile(spreads, 0.99).toFixed(1),
      },
      delay_ms: { p50: +quantile(sorted, 0.5).toFixed(1), p99: +quantile(sorted, 0.99).toFixed(1), max: +sorted.at(-1).toFixed(1) },
    };
  } finally {
    await server.stop();
    removeDir(dir);
  }
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
try {
  const report = {
    page_weight_bytes: pageWeight(),
    ...(values.only === 'sse' ? {} : { first_chart_24h_minute: await firstChart(browser) }),
    sse_fan_out: await fanOut(Number(values.clients), Number(values.clicks)),
  };
  console.log(JSON.stringify(report, null, 2));
} finally {
  await browser.close();
}
