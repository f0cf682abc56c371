import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startKafkaBroker } from '../../../test/support/kafka-broker.js';
import { uniqueTopic } from '../../../test/support/kafka-env.js';
import { openKafkaEventAppender } from './kafka-event-appender.js';
import { openGroupConsumer, type PartitionLease } from './kafka-group-consumer.js';

void test('a group member whose broker was away longer than its retries joins again and reads on', async () => {
  const broker = await startKafkaBroker();
  const topic = uniqueTopic('rejoin');
  const appender = await openKafkaEventAppender({ bootstrap: [broker.bootstrap], topic, partitions: 1 });
  const leases: PartitionLease[] = [];
  const consumer = await openGroupConsumer(
    { bootstrap: [broker.bootstrap], topic, group: uniqueTopic('g'), sessionTimeoutMs: 3_000 },
    (lease) => leases.push(lease),
  );
  try {
    const waitForLease = async (count: number): Promise<PartitionLease> => {
      const deadline = Date.now() + 60_000;
      while (leases.length < count || leases[leases.length - 1]!.revoked.aborted) {
        if (Date.now() > deadline) assert.fail(`no live lease (${leases.length} so far)`);
        await sleep(100);
      }
      return leases[leases.length - 1]!;
    };
    const first = await waitForLease(1);
    await broker.stop();
    // Down for longer than the client's own retries (3 x 250 ms) and two sessions.
    await sleep(8_000);
    assert.equal(first.revoked.aborted, true, 'the lease ended while the broker was away');
    await broker.start();
    const again = await waitForLease(leases.length + 1);
    await appender.append(Buffer.from('after the restart'), { ad: 1, imp: 'x' });
    let seen: string[] = [];
    const deadline = Date.now() + 30_000;
    while (seen.length === 0 && Date.now() < deadline) {
      const batch = await again.reader.read(0, 1 << 20);
      seen = batch.records.map((r) => r.payload.toString());
    }
    assert.deepEqual(seen, ['after the restart']);
  } finally {
    await consumer.close();
    await appender.close();
    await broker.stop();
    await broker.remove();
  }
});
