import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { testKafkaBootstrap } from './support/kafka-env.js';
import { clusterPerFile, loadgenAgainst, summaryLine } from './support/test-cluster.js';

/**
 * A zombie worker: paused (SIGSTOP) past its session timeout while traffic
 * flows, so Kafka gives its partitions to the other worker, which claims
 * their owner epochs; then resumed (SIGCONT). Whatever it had read before the
 * pause it may try to commit under its old epochs, and the store refuses it;
 * or its group consumer notices first and revokes its leases. Either way
 * nothing is counted twice. (That a late commit is refused, deterministically:
 * src/worker/partitioned-aggregation.integration.test.ts.)
 */
const cluster = clusterPerFile('zombie', {
  collectors: 1,
  workers: 2,
  partitions: 4,
  // The shared test broker: this test never restarts it.
  kafka: testKafkaBootstrap(),
  args: { worker: ['--session-timeout', '6s'] },
});

test('a worker paused past its session timeout has its late commits refused, and counts stay exact', async (t) => {
  const c = cluster.get();
  const run = loadgenAgainst(c, [
    ...['--rate', '300', '--duration', '35s', '--ads', '20', '--dup-rate', '0.1', '--bot-rate', '0.02'],
    // A produce request that times out on the shared broker under suite load is answered 503, its
    // events of unknown fate (counted once or not at all): what this test guards is that a zombie
    // never counts anything twice, which the oracle still checks for every event.
    '--tolerate-unknown-fate',
  ]);
  const zombie = c.workers[0]!;
  await sleep(8_000);
  zombie.signal('SIGSTOP');
  // Past the 6 s session timeout: the group rebalances and worker 2 claims every partition.
  await sleep(12_000);
  zombie.signal('SIGCONT');
  const summary = await run;
  t.diagnostic(summaryLine(summary));
  assert.equal(
    summary.exact,
    true,
    `${JSON.stringify(summary.check, null, 2).slice(0, 3000)}\n${zombie.log.slice(-4000)}`,
  );
  // The zombie learnt it lost its partitions: by a refused commit, or by the group telling it first.
  assert.match(zombie.log, /refused|revoked|dropping its state/, zombie.log.slice(-4000));
});
