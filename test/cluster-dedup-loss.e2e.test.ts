import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalCluster } from '../src/cluster/local-cluster.js';
import { RedisServerProcess } from '../src/dedup/redis/redis-server-process.js';
import { adminApi, CHROME_UA, makeDataDir, removeDir, tokenQuery } from './support/adtally-process.js';
import { testKafkaBootstrap } from './support/kafka-env.js';

/**
 * Redis restarted during a run, its data lost (this machine's Redis keeps
 * nothing on disk, like many caches). What happens, shown end to end: the
 * workers notice the loss (the sentinel is gone), say so and go on; a token
 * first clicked before the loss and clicked again after it is billable once
 * more (the window docs/DEDUP-REDIS.md describes, which `adtally reconcile`
 * repairs from the raw archive); a token first clicked after the loss is
 * deduplicated again.
 */
let cluster: LocalCluster;
let redis: RedisServerProcess;
const dir = makeDataDir('adtally-cluster-dedup-loss-');

before(async () => {
  redis = await RedisServerProcess.start();
  cluster = await LocalCluster.start({
    dir,
    collectors: 1,
    workers: 2,
    partitions: 2,
    kafka: testKafkaBootstrap(),
    redis: redis.url,
  });
});

after(async () => {
  await cluster?.stop();
  if (process.env.KEEP_DB === undefined) await cluster?.dropDatabase();
  await redis?.kill();
  removeDir(dir);
});

function click(base: string, query: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/click?${query}`, { headers: { 'user-agent': CHROME_UA } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

interface Clicks {
  readonly clicks: number;
  readonly duplicates: number;
}

async function countsOf(ad: number): Promise<Clicks> {
  const api = adminApi(cluster.api!.url, cluster.adminToken);
  const from = new Date(Date.now() - 3_600_000).toISOString();
  const to = new Date(Date.now() + 60_000).toISOString();
  const answer = await api.json<{ series: { clicks: number; invalid: { duplicate: number } }[] }>(
    'GET',
    `/api/v1/ads/${ad}/aggregates?from=${from}&to=${to}&granularity=hour`,
  );
  return answer.series.reduce(
    (sum, b) => ({ clicks: sum.clicks + b.clicks, duplicates: sum.duplicates + b.invalid.duplicate }),
    { clicks: 0, duplicates: 0 },
  );
}

async function waitForCounts(ad: number, expected: Clicks): Promise<void> {
  let last: Clicks | undefined;
  for (let i = 0; i < 200; i++) {
    last = await countsOf(ad);
    if (last.clicks === expected.clicks && last.duplicates === expected.duplicates) return;
    await sleep(100);
  }
  assert.deepEqual(
    last,
    expected,
    cluster.workers.map((w) => `--- ${w.name}\n${w.log.slice(-3000)}`).join('\n'),
  );
}

test('after Redis lost its data, clicks of tokens seen before the loss bill once more; later ones dedup again', async () => {
  const api = adminApi(cluster.api!.url, cluster.adminToken);
  const { adIds } = await api.seed(1, 'Loss');
  const ad = adIds[0]!;
  await sleep(1_500); // the collector learns of the ad through NOTIFY
  const collector = cluster.collectors[0]!.url;
  const before = Array.from({ length: 20 }, (_, i) =>
    tokenQuery(ad, `loss-before-${i}`, undefined, cluster.secret),
  );
  for (const q of before) assert.equal(await click(collector, q), 302);
  for (const q of before) assert.equal(await click(collector, q), 302);
  await waitForCounts(ad, { clicks: 20, duplicates: 20 });

  await redis.kill();
  await redis.restart();

  // The same 20 tokens again: Redis forgot them, so they bill once more (the documented window).
  for (const q of before) assert.equal(await click(collector, q), 302);
  await waitForCounts(ad, { clicks: 40, duplicates: 20 });
  // Tokens first seen after the loss are deduplicated as before.
  const afterLoss = Array.from({ length: 10 }, (_, i) =>
    tokenQuery(ad, `loss-after-${i}`, undefined, cluster.secret),
  );
  for (const q of afterLoss) assert.equal(await click(collector, q), 302);
  for (const q of afterLoss) assert.equal(await click(collector, q), 302);
  await waitForCounts(ad, { clicks: 50, duplicates: 30 });

  const logs = cluster.workers.map((w) => w.log).join('\n');
  assert.match(logs, /dedup state lost/);
  const losses = await Promise.all(
    cluster.workers.map(async (w) => {
      const text = await (await fetch(`${w.url}/metrics`)).text();
      return Number(/^adtally_dedup_state_losses (\d+)/m.exec(text)?.[1] ?? 0);
    }),
  );
  assert.ok(losses.reduce((a, b) => a + b, 0) >= 1, `losses per worker: ${losses.join(', ')}`);
});
