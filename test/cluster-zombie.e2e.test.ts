import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalCluster } from '../src/cluster/local-cluster.js';
import { parseLoadgenOptions } from '../src/loadgen/loadgen-config.js';
import { runLoadgen } from '../src/loadgen/loadgen.js';
import { makeDataDir, removeDir } from './support/adtally-process.js';
import { testKafkaBootstrap } from './support/kafka-env.js';

/**
 * A zombie worker: paused (SIGSTOP) past its session timeout while traffic
 * flows, so Kafka gives its partitions to the other worker, which claims
 * their owner epochs; then resumed (SIGCONT). Whatever it had read before the
 * pause it tries to commit under its old epochs, and the store refuses it;
 * nothing is counted twice.
 */
let cluster: LocalCluster;
const dir = makeDataDir('adtally-cluster-zombie-');

before(async () => {
  cluster = await LocalCluster.start({
    dir,
    collectors: 1,
    workers: 2,
    partitions: 4,
    // The shared test broker: this test never restarts it.
    kafka: testKafkaBootstrap(),
    args: { worker: ['--session-timeout', '6s'] },
  });
});

after(async () => {
  await cluster?.stop();
  await cluster?.dropDatabase();
  removeDir(dir);
});

test('a worker paused past its session timeout has its late commits refused, and counts stay exact', async (t) => {
  const options = parseLoadgenOptions(
    [
      '--target',
      cluster.url,
      '--admin-token',
      cluster.adminToken,
      '--secret',
      cluster.secret,
      '--rate',
      '300',
      '--duration',
      '35s',
      '--ads',
      '20',
      '--dup-rate',
      '0.1',
      '--bot-rate',
      '0.02',
      '--catalog-wait',
      '2s',
      '--settle-timeout',
      '120s',
      '--quiet',
    ],
    {},
  );
  if (options === 'help') throw new Error('unreachable');
  const run = runLoadgen(options, () => undefined);
  const zombie = cluster.workers[0]!;
  await sleep(8_000);
  zombie.signal('SIGSTOP');
  // Past the 6 s session timeout: the group rebalances and worker 2 claims every partition.
  await sleep(12_000);
  zombie.signal('SIGCONT');
  const summary = await run;
  t.diagnostic(
    `answered ${summary.answered}, unknown fate ${summary.unknown}, p99 ${summary.latencyMs.p99.toFixed(0)} ms, exact ${summary.exact}`,
  );
  assert.equal(
    summary.exact,
    true,
    `${JSON.stringify(summary.check, null, 2).slice(0, 3000)}\n${zombie.log.slice(-4000)}`,
  );
  // The zombie learnt it lost its partitions: by a refused commit, or by the group telling it first.
  assert.match(zombie.log, /refused|revoked|dropping its state/, zombie.log.slice(-4000));
});
