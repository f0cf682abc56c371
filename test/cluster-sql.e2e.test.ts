import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { adminApi, CHROME_UA, makeDataDir, removeDir, tokenQuery } from './support/adtally-process.js';
import { writeArchiveFixture } from './support/archive-fixture.js';
import { testKafkaBootstrap } from './support/kafka-env.js';
import { clusterPerFile } from './support/test-cluster.js';

/** `adtally api` answers SQL over PostgreSQL's minutes and an archive on a shared path (SPEC 3.5, 5). */
const shared = makeDataDir('adtally-cluster-sql-archive-');
const handle = clusterPerFile('sql', {
  collectors: 1,
  workers: 1,
  partitions: 2,
  kafka: testKafkaBootstrap(),
  args: { api: ['--archive', `file:${shared}`] },
});
process.on('exit', () => removeDir(shared));

test('the api answers SQL over the stored minutes and the shared archive, each advertiser its own', async () => {
  const cluster = handle.get();
  const api = adminApi(cluster.api!.url, cluster.adminToken);
  const a = await api.seed(2, 'ClusterA');
  const b = await api.seed(1, 'ClusterB');
  // The collector learns of the new ads through the store's notifications.
  const collector = cluster.collectors[0]!.url;
  const sent = new Map<number, number>([
    [a.adIds[0]!, 3],
    [a.adIds[1]!, 1],
    [b.adIds[0]!, 2],
  ]);
  for (const [ad, n] of sent) {
    for (let i = 0; i < n; i++) {
      for (let attempt = 0; ; attempt++) {
        const res = await fetch(
          `${collector}/click?${tokenQuery(ad, `sql-${ad}-${i}-abcdef`, undefined, cluster.secret)}`,
          {
            headers: { 'user-agent': CHROME_UA },
            redirect: 'manual',
          },
        );
        await res.arrayBuffer();
        if (res.status === 302) break;
        if (attempt > 40) assert.fail(`click on ad ${ad} answered ${res.status}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }
  for (const ad of sent.keys()) {
    const res = await api.call('GET', `/api/v1/ads/${ad}/aggregates?consistent=true`);
    assert.equal(res.status, 200);
  }
  const now = Date.now();
  await writeArchiveFixture(
    shared,
    [a, b].flatMap((who, w) =>
      Array.from({ length: 5 + w }, (_, i) => ({
        offset: w * 100 + i,
        type: 'click' as const,
        outcome: 'ok',
        eventTime: now - 60 * 60_000 + i * 1000,
        ad: who.adIds[0]!,
        campaign: who.campaignId,
        advertiser: who.advertiserId,
        imp: `sql-archive-${w}-${i}`,
        userAgent: 'browser',
        origin: null,
      })),
    ),
  );
  const sql = async (key: string, text: string): Promise<unknown[][]> => {
    const res = await fetch(`${cluster.api!.url}/api/v1/sql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sql: text }),
    });
    const body = (await res.json()) as { rows: unknown[][]; error?: unknown };
    assert.equal(res.status, 200, JSON.stringify(body.error));
    return body.rows;
  };
  const clicksByAd = 'SELECT ad, sum(clicks)::INTEGER FROM minutes GROUP BY ad ORDER BY ad';
  assert.deepEqual(
    await sql(cluster.adminToken, clicksByAd),
    [...sent].sort(([x], [y]) => x - y),
  );
  assert.deepEqual(await sql(a.apiKey, clicksByAd), [
    [a.adIds[0], 3],
    [a.adIds[1], 1],
  ]);
  assert.deepEqual(await sql(b.apiKey, 'SELECT advertiser, count(*)::INTEGER FROM events GROUP BY 1'), [
    [b.advertiserId, 6],
  ]);
  assert.deepEqual(await sql(cluster.adminToken, 'SELECT count(*)::INTEGER FROM events'), [[11]]);
  const stolen = await fetch(`${cluster.api!.url}/api/v1/sql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${a.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ sql: `SELECT * FROM read_parquet('${join(shared, '**', '*.parquet')}')` }),
  });
  assert.equal(stolen.status, 400);
});
