import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { adminApi, CHROME_UA, tokenQuery } from './support/adtally-process.js';
import { testKafkaBootstrap } from './support/kafka-env.js';
import { clusterPerFile } from './support/test-cluster.js';
import { readEventStream } from './support/event-stream.js';

/** The api and the collectors of a cluster agreeing with each other: catalog changes and read-your-acks. */
const handle = clusterPerFile('api', {
  collectors: 2,
  workers: 1,
  partitions: 3,
  kafka: testKafkaBootstrap(),
});

function get(url: string): Promise<{ status: number; location: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { 'user-agent': CHROME_UA } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Polls until `check` holds, for at most `ms`; returns how long it took. */
async function within(ms: number, what: string, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) assert.fail(`${what} did not happen within ${ms} ms`);
    await sleep(25);
  }
  return Date.now() - started;
}

test('catalog changes made through the api reach every collector within a second', async (t) => {
  const cluster = handle.get();
  const api = adminApi(cluster.api!.url, cluster.adminToken);
  const { adIds, campaignId } = await api.seed(1, 'Notify');
  const ad = adIds[0]!;
  const collectors = cluster.collectors.map((c) => c.url);
  const created = await within(1_000, 'a new ad known to both collectors', async () => {
    const answers = await Promise.all(collectors.map((c) => get(`${c}/ad?campaign=${campaignId}`)));
    return answers.every((a) => a.status === 200);
  });
  await api.json('PATCH', `/api/v1/ads/${ad}`, { targetUrl: 'https://notify.example/moved' });
  const moved = await within(1_000, 'the new target URL in every redirect', async () => {
    const answers = await Promise.all(
      collectors.map((c) =>
        get(`${c}/click?${tokenQuery(ad, `notify-${Math.random()}`, undefined, cluster.secret)}`),
      ),
    );
    return answers.every((a) => a.location === 'https://notify.example/moved');
  });
  await api.json('PATCH', `/api/v1/ads/${ad}`, { active: false });
  const paused = await within(1_000, 'the paused ad no longer handed out', async () => {
    const answers = await Promise.all(collectors.map((c) => get(`${c}/ad?campaign=${campaignId}`)));
    return answers.every((a) => a.status === 404);
  });
  t.diagnostic(`propagation: created ${created} ms, moved ${moved} ms, paused ${paused} ms`);
});

test('consistent=true on the api includes every click a collector acknowledged before the query', async () => {
  const cluster = handle.get();
  const api = adminApi(cluster.api!.url, cluster.adminToken);
  const { adIds } = await api.seed(1, 'Acks');
  const ad = adIds[0]!;
  await sleep(1_000);
  const from = new Date(Date.now() - 3_600_000).toISOString();
  const to = new Date(Date.now() + 3_600_000).toISOString();
  let sent = 0;
  for (let round = 0; round < 10; round++) {
    const clicks = Array.from({ length: 5 }, (_, i) =>
      get(
        `${cluster.collectors[i % 2]!.url}/click?${tokenQuery(ad, `acks-${round}-${i}-x`, undefined, cluster.secret)}`,
      ),
    );
    for (const answer of await Promise.all(clicks)) assert.equal(answer.status, 302);
    sent += 5;
    const answer = await api.json<{ totals: { clicks: number } }>(
      'GET',
      `/api/v1/ads/${ad}/aggregates?from=${from}&to=${to}&granularity=hour&consistent=true`,
    );
    assert.equal(answer.totals.clicks, sent, `round ${round}`);
  }
});

test("the api's live stream tells an advertiser of its click, committed by a worker in another process", async () => {
  const cluster = handle.get();
  const api = adminApi(cluster.api!.url, cluster.adminToken);
  const mine = await api.seed(1, 'Streamed');
  const theirs = await api.seed(1, 'Unstreamed');
  const ad = mine.adIds[0]!;
  const open = (key: string) =>
    fetch(`${cluster.api!.url}/api/v1/stream`, { headers: { authorization: `Bearer ${key}` } });
  const [own, other] = await Promise.all([open(mine.apiKey), open(theirs.apiKey)]);
  assert.equal(own.status, 200);
  const seen = (text: string) => text.includes(`"ad":${ad},`);
  const ownText = readEventStream(own, seen, 10_000);
  const otherText = readEventStream(other, seen, 3_000);
  // Every collector knows the new ad before the click.
  await within(2_000, 'the ad known to the collectors', async () =>
    (await Promise.all(cluster.collectors.map((c) => get(`${c.url}/ad?campaign=${mine.campaignId}`)))).every(
      (a) => a.status === 200,
    ),
  );
  const clicked = Date.now();
  const click = await get(
    `${cluster.url}/click?${tokenQuery(ad, 'imp_cluster_stream_1', undefined, cluster.secret)}`,
  );
  assert.equal(click.status, 302);
  const text = await ownText;
  assert.ok(seen(text), `no event for ad ${ad} on its advertiser's stream:\n${text}`);
  const event = text.split('\n\n').find((block) => block.startsWith('event: commit') && seen(block))!;
  const data = JSON.parse(event.slice(event.indexOf('data: ') + 6)) as {
    offset: null;
    changes: { ad: number; counts: { clicks: number } }[];
  };
  assert.equal(data.offset, null);
  assert.equal(data.changes.find((c) => c.ad === ad)!.counts.clicks, 1);
  console.log(`api stream event ${Date.now() - clicked} ms after the click`);
  assert.ok(!seen(await otherText), "another advertiser's stream got the click");
});
