import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServe, type RunningServer } from '../src/cli/serve.js';
import { parseServeConfig, type ServeConfig } from '../src/config/serve-config.js';
import {
  adminApi,
  CHROME_UA,
  makeDataDir,
  removeDir,
  TEST_ADMIN_TOKEN,
  TEST_SECRET,
  tokenQuery,
} from './support/adtally-process.js';
import { apiGet, pollUntil, type SeriesAnswer } from './support/traffic.js';

/** `adtally serve` in this process, with the test seams the CLI never sets. */
function configFor(dataDir: string): ServeConfig {
  const config = parseServeConfig(['--port', '0', '--data-dir', dataDir], {
    ADTALLY_SECRET: TEST_SECRET,
    ADTALLY_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
  });
  assert.notEqual(config, 'help');
  return config as ServeConfig;
}

let imp = 0;
const nextImp = (): string => `thread-imp-${String(++imp).padStart(8, '0')}`;

async function click(base: string, ad: number): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${base}/click?${tokenQuery(ad, nextImp())}`, {
    redirect: 'manual',
    headers: { 'user-agent': CHROME_UA },
  });
  await res.arrayBuffer();
  assert.equal(res.status, 302);
  return performance.now() - started;
}

const clicksOf = (answer: SeriesAnswer): number => answer.series.reduce((sum, b) => sum + b.clicks, 0);

describe('the store on its own thread', () => {
  const STALL_MS = 400;
  let dir: string;
  let server: RunningServer;
  let ad: number;

  before(async () => {
    dir = makeDataDir();
    // Every aggregation commit blocks the aggregation thread, as a long appender flush would.
    server = await startServe(configFor(dir), () => undefined, { commitStallMs: STALL_MS });
    [ad] = (await adminApi(server.url).seed(1)).adIds as [number];
  });

  after(async () => {
    await server.shutdown();
    removeDir(dir);
  });

  it('answers clicks while a commit is in progress, well under the commit stall', async () => {
    const latencies: number[] = [];
    const until = Date.now() + 3 * STALL_MS + 500;
    while (Date.now() < until) latencies.push(await click(server.url, ad));
    // Commits ran all along (every 200 ms while clicks flow, each blocking its thread 400 ms):
    // had one run on this thread, clicks arriving then would have waited for it.
    const slowest = Math.max(...latencies);
    assert.ok(slowest < STALL_MS / 2, `slowest click took ${slowest.toFixed(1)} ms (stall ${STALL_MS} ms)`);
    const counted = await pollUntil(async () => {
      const { body } = await apiGet<SeriesAnswer>(server.url, `/api/v1/ads/${ad}/aggregates`);
      return { done: clicksOf(body) === latencies.length, value: clicksOf(body) };
    }, 10_000);
    assert.equal(counted.value, latencies.length, 'every click is counted once the commits land');
  });
});

describe('consistent=true: read your acknowledged clicks', () => {
  let dir: string;
  let server: RunningServer;
  let ad: number;
  let campaign: number;
  let apiKey: string;

  before(async () => {
    dir = makeDataDir();
    server = await startServe(configFor(dir), () => undefined);
    const seeded = await adminApi(server.url).seed(1);
    [ad] = seeded.adIds as [number];
    campaign = seeded.campaignId;
    apiKey = seeded.apiKey;
  });

  after(async () => {
    await server.shutdown();
    removeDir(dir);
  });

  it('counts exactly the clicks that got their 302, every round', async () => {
    let sent = 0;
    for (let round = 1; round <= 25; round++) {
      const n = 1 + (round % 7);
      await Promise.all(Array.from({ length: n }, () => click(server.url, ad)));
      sent += n;
      const series = await apiGet<SeriesAnswer>(server.url, `/api/v1/ads/${ad}/aggregates?consistent=true`);
      assert.equal(series.status, 200);
      assert.equal(clicksOf(series.body), sent, `ad series after round ${round}`);
      const byCampaign = await apiGet<SeriesAnswer>(
        server.url,
        `/api/v1/campaigns/${campaign}/aggregates?consistent=true&granularity=hour`,
        apiKey,
      );
      assert.equal(clicksOf(byCampaign.body), sent, `campaign series after round ${round}`);
      const top = await apiGet<{ ads: { ad: number; clicks: number }[] }>(
        server.url,
        `/api/v1/top?consistent=true`,
      );
      assert.deepEqual(
        top.body.ads.map((row) => [row.ad, row.clicks]),
        [[ad, sent]],
        `top after round ${round}`,
      );
    }
  });

  it('answers 400 for a consistent value that is neither true nor false', async () => {
    const answer = await apiGet<{ error: { code: string } }>(
      server.url,
      `/api/v1/ads/${ad}/aggregates?consistent=yes`,
    );
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error.code, 'bad_request');
  });
});
