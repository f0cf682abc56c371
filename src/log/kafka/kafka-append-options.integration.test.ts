import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testKafkaBootstrap, uniqueTopic } from '../../../test/support/kafka-env.js';
import { NotAppendedError, type LogRecord } from '../event-log.js';
import { openKafkaEventAppender } from './kafka-event-appender.js';
import { openKafkaPartitionReader } from './kafka-partition-reader.js';

async function readPartition(bootstrap: string, topic: string, partition: number): Promise<LogRecord[]> {
  const reader = await openKafkaPartitionReader({ bootstrap: [bootstrap], topic, partition });
  try {
    const records: LogRecord[] = [];
    let from = reader.startOffset();
    await reader.read(from, 1 << 20); // learns the high watermark
    while (from < reader.durableEnd()) {
      const batch = await reader.read(from, 1 << 20);
      records.push(...batch.records);
      from = batch.next;
    }
    return records;
  } finally {
    await reader.close();
  }
}

void test('an append withdrawn while it waits behind the request in flight rejects NotAppendedError and is not in the log', async () => {
  const bootstrap = testKafkaBootstrap();
  const topic = uniqueTopic('withdraw');
  const appender = await openKafkaEventAppender({ bootstrap: [bootstrap], topic, partitions: 1 });
  try {
    await appender.append(Buffer.from('warm-up'), { ad: 1, imp: 'w' });
    // The first append starts a request; the second waits behind it and is withdrawn meanwhile.
    const first = appender.append(Buffer.from('sent'), { ad: 1, imp: 'a' });
    const withdraw = new AbortController();
    const second = appender.append(
      Buffer.from('withdrawn'),
      { ad: 1, imp: 'b' },
      { signal: withdraw.signal },
    );
    const refused = assert.rejects(second, NotAppendedError);
    withdraw.abort();
    await first;
    await refused;
    // An append whose signal is already aborted is refused at once.
    await assert.rejects(
      appender.append(Buffer.from('late'), { ad: 1, imp: 'c' }, { signal: AbortSignal.abort() }),
      NotAppendedError,
    );
    await appender.append(Buffer.from('after'), { ad: 1, imp: 'd' });
    const payloads = (await readPartition(bootstrap, topic, 0)).map((r) => r.payload.toString());
    assert.deepEqual(payloads, ['warm-up', 'sent', 'after']);
  } finally {
    await appender.close();
  }
});

void test("a forwarded record's origin travels with it and comes back from the reader", async () => {
  const bootstrap = testKafkaBootstrap();
  const topic = uniqueTopic('origin');
  const appender = await openKafkaEventAppender({ bootstrap: [bootstrap], topic, partitions: 1 });
  try {
    await Promise.all([
      appender.append(Buffer.from('plain'), { ad: 1, imp: 'a' }),
      appender.append(Buffer.from('forwarded'), { ad: 1, imp: 'b' }, { origin: '0123456789abcdef/4096' }),
    ]);
    const records = await readPartition(bootstrap, topic, 0);
    assert.deepEqual(
      records.map((r) => [r.payload.toString(), r.origin]),
      [
        ['plain', undefined],
        ['forwarded', '0123456789abcdef/4096'],
      ],
    );
  } finally {
    await appender.close();
  }
});

void test('forwarded records do not make an ad hot: a forward burst keeps every impression on its partition', async () => {
  const bootstrap = testKafkaBootstrap();
  const topic = uniqueTopic('forward-hot');
  const appender = await openKafkaEventAppender({
    bootstrap: [bootstrap],
    topic,
    partitions: 4,
    hotSpread: 4,
    hotAds: { thresholdPerSecond: 50 },
  });
  try {
    const burst = (origin: boolean): Promise<number[]> =>
      Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          appender
            .append(
              Buffer.from(`e${i}`),
              { ad: 1, imp: `imp-${origin ? 'f' : 'd'}-${i}` },
              origin ? { origin: `collector/${i}` } : {},
            )
            .then((p) => p.partition),
        ),
      );
    const forwarded = new Set(await burst(true));
    assert.deepEqual([...forwarded], [1], 'all on ad 1 home partition');
    const direct = new Set(await burst(false));
    assert.ok(direct.size > 1, `the same burst appended directly makes ad 1 hot: ${[...direct].join(',')}`);
  } finally {
    await appender.close();
  }
});
