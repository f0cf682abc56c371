import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadgenSummary } from '../src/loadgen/loadgen.js';
import { clusterPerFile, loadgenAgainst, summaryLine } from './support/test-cluster.js';

/**
 * The cluster of SPEC 5 under loadgen traffic with hot ads (zipf 1.4) and
 * every invalid kind, while processes die: kill -9 of a worker, a new worker
 * joining (a rebalance), kill -9 of a collector, a broker restart. Loadgen's
 * oracle must still find every (ad, minute) exact; requests that got no
 * answer from the killed collector may count once or not at all.
 */
const cluster = clusterPerFile('chaos', {
  collectors: 2,
  workers: 3,
  partitions: 6,
  args: { worker: ['--session-timeout', '6s'] },
});

function explain(summary: LoadgenSummary): string {
  const c = cluster.get();
  const logs = [...c.workers, ...c.collectors].map((p) => `--- ${p.name}\n${p.log.slice(-3000)}`);
  return `${JSON.stringify(summary, null, 2).slice(0, 4000)}\n${logs.join('\n')}`;
}

test('2 collectors + 3 workers stay exact through kill -9 of a worker and a collector, a rebalance and a broker restart', async (t) => {
  const c = cluster.get();
  const run = loadgenAgainst(c, [
    ...['--rate', '300', '--duration', '50s', '--ads', '40', '--zipf', '1.4'],
    ...['--dup-rate', '0.05', '--bad-sig-rate', '0.02', '--expired-rate', '0.02', '--bot-rate', '0.02'],
    ...['--prefetch-rate', '0.02', '--late-rate', '0.02', '--tolerate-unknown-fate'],
  ]);
  await sleep(8_000);
  await c.workers[0]!.kill();
  await sleep(5_000);
  c.workers.push(await c.spawn('worker'));
  await sleep(5_000);
  await c.collectors[0]!.kill();
  await c.replaceCollector(0);
  await sleep(5_000);
  await c.kafka!.stop();
  await c.kafka!.start();
  const summary = await run;
  t.diagnostic(summaryLine(summary));
  assert.equal(summary.exact, true, explain(summary));
  assert.ok(summary.answered > 5_000, `only ${summary.answered} events answered`);
});
