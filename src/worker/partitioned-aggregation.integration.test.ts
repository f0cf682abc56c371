import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeTempDir } from '../../test/log/log-test-helpers.js';
import { emptyCounts } from '../aggregate/counts.js';
import { minuteOf } from '../aggregate/minute.js';
import { makeEvent, mulberry32, oracle } from '../aggregate/test-support.js';
import { MemoryDedupStore } from '../dedup/memory-dedup-store.js';
import { encodeEvent, type TrackedEvent } from '../domain/event.js';
import { openFileEventLog } from '../log/file/file-event-log.js';
import { AggregationMetrics } from '../metrics/aggregation-metrics.js';
import { openServingStore } from '../store/open-store.js';
import { createFreshDatabase } from '../store/postgres/fresh-test-database.js';
import { PartitionedAggregation } from './partitioned-aggregation.js';

/** 3,000 events over 5 ads and a few minutes, a quarter of them repeating an earlier impression. */
function traffic(): TrackedEvent[] {
  const random = mulberry32(9);
  const start = Date.now() - 10 * 60_000;
  const events: TrackedEvent[] = [];
  for (let i = 0; i < 3_000; i++) {
    const repeat = i > 10 && random() < 0.25;
    const imp = repeat ? `imp${Math.floor(random() * i)}` : `imp${i}`;
    events.push(
      makeEvent({
        type: random() < 0.3 ? 'click' : 'impression',
        ad: 1 + Math.floor(random() * 5),
        imp,
        eventTime: start + i * 100,
      }),
    );
  }
  return events;
}

const never = new AbortController().signal;

void test('a zombie that lost its partition to a new owner has its late commit refused, and nothing counts twice', async () => {
  const { dir, remove } = makeTempDir('fence');
  const database = await createFreshDatabase('fence');
  const log = await openFileEventLog(dir);
  const store = await openServingStore(database.url);
  const lines: string[] = [];
  const dedup = new MemoryDedupStore();
  const aggregation = (flushIntervalMs: number): PartitionedAggregation =>
    new PartitionedAggregation({
      store: store.aggregates,
      dedup,
      metrics: new AggregationMetrics(),
      consumerPrefix: 'events/',
      allowedLatenessMs: 5_000,
      clickTtlMs: 86_400_000,
      flushIntervalMs,
      log: (line) => lines.push(line),
    });
  try {
    const events = traffic();
    await Promise.all(events.map((e) => log.append(encodeEvent(e))));
    // The zombie-to-be reads everything but commits only when stopped (its interval is a minute).
    const zombie = aggregation(60_000);
    zombie.assign({ partition: 0, reader: log, revoked: never });
    await sleep(1_000);
    // The new owner claims the partition (epoch 2), reads the same events and commits them.
    const owner = aggregation(50);
    owner.assign({ partition: 0, reader: log, revoked: never });
    for (let i = 0; ; i++) {
      const checkpoint = await store.aggregates.loadCheckpoint('events/0');
      if (checkpoint?.offset === log.durableEnd()) break;
      if (i > 300) assert.fail('the new owner did not commit the whole log');
      await sleep(50);
    }
    // The zombie wakes up and commits what it read, under its old epoch.
    await zombie.close();
    assert.ok(
      lines.some((l) =>
        /partition 0: commit for events\/0 refused: made under owner epoch 1, the current epoch is 2/.test(l),
      ),
      lines.join('\n'),
    );
    await owner.close();
    const expected = oracle(events);
    const from = minuteOf(events[0]!.eventTime);
    const to = minuteOf(events[events.length - 1]!.eventTime) + 1;
    for (let ad = 1; ad <= 5; ad++) {
      const rows = await store.aggregates.series([ad], from, to, 1);
      for (let minute = from; minute < to; minute++) {
        const got = rows.find((r) => r.minute === minute)?.counts ?? emptyCounts();
        assert.deepEqual(got, expected.get(`${ad}:${minute}`) ?? emptyCounts(), `ad ${ad} minute ${minute}`);
      }
    }
  } finally {
    await store.close();
    await log.close();
    await dedup.close();
    await database.drop();
    remove();
  }
});
