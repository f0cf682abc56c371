import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { clusterPerFile, loadgenAgainst, summaryLine } from './support/test-cluster.js';

/**
 * Store and forward: Kafka stopped for 10 s under load. Collectors spill to
 * their local file logs (still durable before they answer), say so on
 * /readyz, and forward the spilled events in order once the broker is back.
 * Every answered event is counted exactly once, in its own minute: the
 * spilling collectors hold the cluster's watermark back until their events
 * are forwarded, so none of them arrives late.
 */
const cluster = clusterPerFile('spill', {
  collectors: 2,
  workers: 2,
  partitions: 4,
  args: { collector: ['--produce-deadline', '1s'] },
});

async function readyz(url: string): Promise<{ status: number; body: { status: string; degraded?: object } }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; degraded?: object } };
}

test('with Kafka stopped for 10 s, collectors spill and forward, and every answered event counts once', async (t) => {
  const c = cluster.get();
  const run = loadgenAgainst(c, [
    ...['--rate', '300', '--duration', '40s', '--ads', '20', '--dup-rate', '0.05', '--bot-rate', '0.02'],
    '--tolerate-unknown-fate',
  ]);
  await sleep(8_000);
  await c.kafka!.stop();
  await sleep(4_000);
  // Degraded, still serving: a load balancer keeps sending it traffic.
  const during = await readyz(c.collectors[0]!.url);
  await sleep(6_000);
  await c.kafka!.start();
  const summary = await run;
  t.diagnostic(summaryLine(summary));
  const logs = c.collectors.map((p) => p.log).join('\n');
  assert.equal(
    summary.exact,
    true,
    `${JSON.stringify(summary.check, null, 2).slice(0, 3000)}\n${logs.slice(-4000)}`,
  );
  assert.equal(during.status, 200, JSON.stringify(during.body));
  assert.equal(during.body.status, 'degraded', JSON.stringify(during.body));
  assert.match(logs, /spilling events to the local log/);
  assert.match(logs, /all spilled events forwarded/);
  // Only requests caught in the produce request under way when the broker went can be of unknown fate.
  assert.ok(summary.unknown < summary.answered * 0.02, `${summary.unknown} of ${summary.answered} unknown`);
  const after = await readyz(c.collectors[0]!.url);
  assert.equal(after.body.status, 'ready', JSON.stringify(after.body));
  // Every spilled event was forwarded, and no collector still holds the watermark back.
  const forwarded = await Promise.all(
    c.collectors.map(async (p) => {
      const text = await (await fetch(`${p.url}/metrics`)).text();
      const value = (name: string): number =>
        Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
      return { spilled: value('adtally_spilled_events'), forwarded: value('adtally_forwarded_events') };
    }),
  );
  assert.ok(
    forwarded.some((f) => f.spilled > 0),
    JSON.stringify(forwarded),
  );
  for (const f of forwarded) assert.equal(f.forwarded, f.spilled, JSON.stringify(forwarded));
  const db = new pg.Client({ connectionString: c.urls.store });
  await db.connect();
  try {
    assert.equal((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM spill_holds')).rows[0]?.n, 0);
  } finally {
    await db.end();
  }
});
