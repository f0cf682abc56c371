import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalCluster } from '../src/cluster/local-cluster.js';
import { parseLoadgenOptions } from '../src/loadgen/loadgen-config.js';
import { runLoadgen, type LoadgenSummary } from '../src/loadgen/loadgen.js';
import { makeDataDir, removeDir } from './support/adtally-process.js';

/**
 * The cluster of SPEC 5 under loadgen traffic with hot ads (zipf 1.4) and
 * every invalid kind, while processes die: kill -9 of a worker, a new worker
 * joining (a rebalance), kill -9 of a collector, a broker restart. Loadgen's
 * oracle must still find every (ad, minute) exact; requests that got no
 * answer from the killed collector may count once or not at all.
 */
let cluster: LocalCluster;
const dir = makeDataDir('adtally-cluster-chaos-');

before(async () => {
  cluster = await LocalCluster.start({
    dir,
    collectors: 2,
    workers: 3,
    partitions: 6,
    args: { worker: ['--session-timeout', '6s'] },
  });
});

after(async () => {
  await cluster?.stop();
  await cluster?.dropDatabase();
  removeDir(dir);
});

function loadgenArgs(seconds: number, rate: number): string[] {
  return [
    '--target',
    cluster.url,
    '--admin-token',
    cluster.adminToken,
    '--secret',
    cluster.secret,
    '--rate',
    String(rate),
    '--duration',
    `${seconds}s`,
    '--ads',
    '40',
    '--zipf',
    '1.4',
    '--dup-rate',
    '0.05',
    '--bad-sig-rate',
    '0.02',
    '--expired-rate',
    '0.02',
    '--bot-rate',
    '0.02',
    '--prefetch-rate',
    '0.02',
    '--late-rate',
    '0.02',
    '--catalog-wait',
    '2s',
    '--settle-timeout',
    '120s',
    '--tolerate-unknown-fate',
    '--quiet',
  ];
}

function explain(summary: LoadgenSummary): string {
  const logs = [...cluster.workers, ...cluster.collectors].map((p) => `--- ${p.name}\n${p.log.slice(-3000)}`);
  return `${JSON.stringify(summary, null, 2).slice(0, 4000)}\n${logs.join('\n')}`;
}

test('2 collectors + 3 workers stay exact through kill -9 of a worker and a collector, a rebalance and a broker restart', async (t) => {
  const options = parseLoadgenOptions(loadgenArgs(50, 300), {});
  assert.notEqual(options, 'help');
  if (options === 'help') return;
  const run = runLoadgen(options, () => undefined);
  await sleep(8_000);
  await cluster.workers[0]!.kill();
  await sleep(5_000);
  cluster.workers.push(await cluster.spawn('worker'));
  await sleep(5_000);
  await cluster.collectors[0]!.kill();
  await cluster.replaceCollector(0);
  await sleep(5_000);
  await cluster.kafka!.stop();
  await cluster.kafka!.start();
  const summary = await run;
  t.diagnostic(
    `answered ${summary.answered}, unknown fate ${summary.unknown}, p99 ${summary.latencyMs.p99.toFixed(0)} ms, exact ${summary.exact}`,
  );
  assert.equal(summary.exact, true, explain(summary));
  assert.ok(summary.answered > 5_000, `only ${summary.answered} events answered`);
});
