import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeTempDir } from '../../test/log/log-test-helpers.js';
import { duplicatePositions, readArchive } from '../../test/support/archive-reader.js';
import { testKafkaBootstrap, uniqueTopic } from '../../test/support/kafka-env.js';
import { makeEvent } from '../aggregate/test-support.js';
import { parseWorkerConfig } from '../config/cluster-config.js';
import { encodeEvent } from '../domain/event.js';
import { openKafkaEventAppender } from '../log/kafka/kafka-event-appender.js';
import { openServingStore } from '../store/open-store.js';
import { createFreshDatabase } from '../store/postgres/fresh-test-database.js';
import { startWorker } from './worker.js';

const PARTITIONS = 3;

/*
 * `adtally worker --archive` on Kafka: two workers share one archive path;
 * one leaves mid-way (a rebalance moves its partitions), the other archives
 * on from the committed positions. At the end the archive holds every
 * produced record once, each under its own (partition, offset).
 */
void test('two workers on a shared archive path, one leaving mid-way: every Kafka record archived once', async () => {
  const bootstrap = testKafkaBootstrap();
  const topic = uniqueTopic('archive');
  const { dir, remove } = makeTempDir('worker-archive');
  const database = await createFreshDatabase('wkarchive');
  const appender = await openKafkaEventAppender({ bootstrap: [bootstrap], topic, partitions: PARTITIONS });
  const store = await openServingStore(database.url);
  const archive = join(dir, 'archive');
  const lines: string[] = [];
  const worker = async (name: string) => {
    const config = parseWorkerConfig(
      [
        ...['--log', `kafka://${bootstrap}/${topic}?partitions=${PARTITIONS}`, '--store', database.url],
        ...['--dedup', `redis://127.0.0.1:6379?prefix=test-${randomUUID().slice(0, 8)}`, '--port', '0'],
        ...['--group', `g-${topic}`, '--session-timeout', '6s', '--data-dir', join(dir, name)],
        ...['--archive', `file:${archive}`, '--archive-roll-interval', '200ms'],
      ],
      {},
    );
    assert.ok(config !== 'help');
    return startWorker(config, (line) => lines.push(`${name}: ${line}`));
  };
  const produced: { partition: number; offset: number }[] = [];
  const produce = async (count: number, from: number): Promise<void> => {
    const positions = await Promise.all(
      Array.from({ length: count }, (_, i) => {
        const event = makeEvent({
          type: 'click',
          ad: 1 + ((from + i) % 12),
          imp: `imp-${from + i}`,
          eventTime: Date.now(),
        });
        return appender.append(encodeEvent(event), event);
      }),
    );
    produced.push(...positions);
  };
  const archivedUpTo = async (): Promise<boolean> => {
    const ends = new Map<number, number>();
    for (const { partition, offset } of produced)
      ends.set(partition, Math.max(ends.get(partition) ?? 0, offset + 1));
    for (const [partition, end] of ends) {
      const checkpoint = await store.aggregates.loadCheckpoint(`archive/${topic}/${partition}`);
      if ((checkpoint?.offset ?? 0) < end) return false;
    }
    return true;
  };
  const waitArchived = async (): Promise<void> => {
    for (let i = 0; !(await archivedUpTo()); i++) {
      if (i > 600) assert.fail(`not archived in time:\n${lines.join('\n')}`);
      await sleep(100);
    }
  };
  const a = await worker('a');
  const b = await worker('b');
  try {
    await produce(600, 0);
    await waitArchived();
    // b leaves: its partitions go to a, which archives them from their committed positions.
    await b.shutdown();
    await produce(600, 600);
    await waitArchived();
    await a.shutdown();
    const rows = await readArchive(archive);
    assert.deepEqual(duplicatePositions(rows), []);
    const key = (p: { partition: number; offset: number }): string => `${p.partition}:${p.offset}`;
    assert.deepEqual(rows.map(key).sort(), produced.map(key).sort());
    assert.ok(new Set(rows.map((r) => r.partition)).size > 1, 'rows of several partitions');
    assert.ok(
      lines.some((l) => /archiving from offset/.test(l)),
      lines.join('\n'),
    );
  } finally {
    await b.shutdown().catch(() => undefined);
    await a.shutdown().catch(() => undefined);
    await appender.close();
    await store.close();
    await database.drop();
    remove();
  }
});
