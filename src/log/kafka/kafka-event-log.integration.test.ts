import { Admin } from '@platformatic/kafka';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startKafkaBroker } from '../../../test/support/kafka-broker.js';
import { testKafkaBootstrap, uniqueTopic } from '../../../test/support/kafka-env.js';
import { ConfigError } from '../../config/settings.js';
import type { LogPosition } from '../event-log.js';
import { openEventAppender } from '../open-event-log.js';
import { openKafkaEventAppender } from './kafka-event-appender.js';
import { openGroupConsumer, type GroupConsumer, type PartitionLease } from './kafka-group-consumer.js';
import { openKafkaPartitionReader } from './kafka-partition-reader.js';

async function createTopic(bootstrap: string, topic: string, partitions: number): Promise<void> {
  const admin = new Admin({ clientId: 'adtally-test', bootstrapBrokers: [bootstrap] });
  try {
    await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
  } finally {
    await admin.close();
  }
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every payload of `partitions` partitions of `topic`, as text, with how often each was read. */
async function readAll(bootstrap: string, topic: string, partitions: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let partition = 0; partition < partitions; partition++) {
    const reader = await openKafkaPartitionReader({ bootstrap: [bootstrap], topic, partition });
    try {
      let from = reader.startOffset();
      while (from < reader.durableEnd()) {
        const batch = await reader.read(from, 1 << 20);
        for (const r of batch.records)
          seen.set(r.payload.toString(), (seen.get(r.payload.toString()) ?? 0) + 1);
        from = batch.next;
      }
    } finally {
      await reader.close();
    }
  }
  return seen;
}

void test('a topic with another partition count is a ConfigError at open that says both counts', async () => {
  const bootstrap = testKafkaBootstrap();
  const topic = uniqueTopic('mismatch');
  await createTopic(bootstrap, topic, 3);
  await assert.rejects(
    openEventAppender(`kafka://${bootstrap}/${topic}?partitions=6`),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.message === `Kafka topic ${topic} has 3 partitions, the URL asks for 6`,
  );
  const appender = await openEventAppender(`kafka://${bootstrap}/${topic}?partitions=3`);
  assert.equal(appender.partitions, 3);
  await appender.close();
});

void test('a missing topic is created with the URL partition count; an unreachable broker fails check()', async () => {
  const bootstrap = testKafkaBootstrap();
  const topic = uniqueTopic('created');
  const appender = await openEventAppender(`kafka://${bootstrap}/${topic}?partitions=5`);
  assert.equal(appender.partitions, 5);
  await appender.check();
  await appender.close();
  const admin = new Admin({ clientId: 'adtally-test', bootstrapBrokers: [bootstrap] });
  try {
    const metadata = await admin.metadata({ topics: [topic] });
    assert.equal(metadata.topics.get(topic)?.partitionsCount, 5);
  } finally {
    await admin.close();
  }
});

void test('a hot ad is spread over `spread` partitions from its home; a cold one stays home', async () => {
  const bootstrap = testKafkaBootstrap();
  const topic = uniqueTopic('hot');
  const appender = await openKafkaEventAppender({
    bootstrap: [bootstrap],
    topic,
    partitions: 6,
    hotSpread: 3,
    hotAds: { thresholdPerSecond: 50 },
  });
  try {
    const hot = await Promise.all(
      Array.from({ length: 400 }, (_, i) =>
        appender.append(Buffer.from(`h${i}`), { ad: 8, imp: `imp-${i}` }),
      ),
    );
    const cold = await Promise.all(
      Array.from({ length: 20 }, (_, i) => appender.append(Buffer.from(`c${i}`), { ad: 9, imp: `imp-${i}` })),
    );
    // Ad 8's home is 8 % 6 = 2; hot, it spreads over 2, 3 and 4.
    assert.deepEqual([...new Set(hot.map((p) => p.partition))].sort(), [2, 3, 4]);
    assert.deepEqual([...new Set(cold.map((p) => p.partition))], [3]);
  } finally {
    await appender.close();
  }
});

void test('a group of two members splits the partitions; when one leaves the other gets them all', async () => {
  const bootstrap = testKafkaBootstrap();
  const topic = uniqueTopic('group');
  const group = uniqueTopic('group');
  const appender = await openKafkaEventAppender({ bootstrap: [bootstrap], topic, partitions: 4 });
  const written: LogPosition[] = [];
  for (let ad = 0; ad < 4; ad++)
    written.push(await appender.append(Buffer.from(`ad-${ad}`), { ad, imp: 'x' }));
  await appender.close();

  const leasesOf = (leases: PartitionLease[]) => () =>
    leases.filter((l) => !l.revoked.aborted).map((l) => l.partition);
  const leasesA: PartitionLease[] = [];
  const leasesB: PartitionLease[] = [];
  const options = { bootstrap: [bootstrap], topic, group, sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 };
  const a = await openGroupConsumer(options, (lease) => leasesA.push(lease));
  let b: GroupConsumer | undefined;
  try {
    await waitFor('A holds all 4', () => a.assignedPartitions().length === 4);
    const first = leasesA.find((l) => l.partition === 1 && !l.revoked.aborted)!;
    const batch = await first.reader.read(0, 1 << 20);
    assert.deepEqual(
      batch.records.map((r) => r.payload.toString()),
      ['ad-1'],
    );
    assert.equal(a.lag().get(1), 0);

    b = await openGroupConsumer({ ...options, clientId: 'member-b' }, (lease) => leasesB.push(lease));
    await waitFor(
      'A and B hold 2 each',
      () => a.assignedPartitions().length === 2 && b!.assignedPartitions().length === 2,
    );
    assert.ok(first.revoked.aborted, "A's lease from before B joined is revoked");
    await assert.rejects(first.reader.read(0, 1024), /revoked/);
    const union = [...leasesOf(leasesA)(), ...leasesOf(leasesB)()].sort();
    assert.deepEqual(union, [0, 1, 2, 3], 'every partition has exactly one owner');

    await b.close();
    b = undefined;
    await waitFor('A holds all 4 again', () => a.assignedPartitions().length === 4);
    assert.ok(
      leasesB.every((l) => l.revoked.aborted),
      "B's leases are revoked at close",
    );
  } finally {
    await b?.close();
    await a.close();
  }
});

void test('broker restart: acked appends are all there once, and appends after the restart resolve', async () => {
  const broker = await startKafkaBroker();
  try {
    const topic = uniqueTopic('restart');
    const appender = await openKafkaEventAppender({ bootstrap: [broker.bootstrap], topic, partitions: 3 });
    const acked: string[] = [];
    const append = async (label: string): Promise<void> => {
      try {
        await appender.append(Buffer.from(label), { ad: acked.length % 7, imp: label });
        acked.push(label);
      } catch {
        // Rejected while the broker was down: it may or may not be in the log; not acknowledged.
      }
    };
    await Promise.all(Array.from({ length: 300 }, (_, i) => append(`before-${i}`)));
    assert.equal(acked.length, 300);
    await broker.stop();
    await assert.rejects(appender.check(), /Kafka at 127\.0\.0\.1:\d+ is unreachable/);
    const during = Promise.all(Array.from({ length: 20 }, (_, i) => append(`during-${i}`)));
    await broker.start();
    await during;
    const afterStart = acked.length;
    // The producer reconnects (or is replaced after a failed request); appends resolve again.
    const deadline = Date.now() + 30_000;
    for (let i = 0; acked.length < afterStart + 100; i++) {
      if (Date.now() > deadline)
        assert.fail(`only ${acked.length - afterStart} appends after the restart resolved`);
      await append(`after-${i}`);
    }
    await appender.close();
    const seen = await readAll(broker.bootstrap, topic, 3);
    for (const label of acked) assert.equal(seen.get(label), 1, `${label} is in the log once`);
  } finally {
    await broker.remove();
  }
});
