import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventAppender, LogPosition, LogReader, LogRecord, PartitionKey } from './event-log.js';

/** One log under test: `open` opens the same log each time (a reopen after close sees its records). */
export interface EventLogUnderTest {
  open(): Promise<EventAppender>;
  /** A reader of one partition of the log, opened while the appender may be open. */
  openReader(partition: number): Promise<LogReader & { close(): Promise<void> }>;
  /** Deletes what the log left (its dir, its topic). */
  cleanup(): Promise<void>;
}

const READ_DEADLINE_MS = 30_000;

function payloadOf(i: number, tag: string): Buffer {
  return Buffer.from(`${tag}:${i}:${'x'.repeat(i % 97)}`);
}

function keyOf(i: number): PartitionKey {
  return { ad: 1 + (i % 13), imp: `imp-${i}` };
}

/**
 * Reads `partition` from its start until every offset of `wanted` is behind
 * `next`: what a consumer sees of those appends. Reads in small chunks so
 * the `next` of one read is what the following read starts from.
 */
async function readPartition(
  log: EventLogUnderTest,
  partition: number,
  wanted: readonly number[],
  maxBytes = 4096,
): Promise<LogRecord[]> {
  const target = wanted.length === 0 ? 0 : Math.max(...wanted) + 1;
  const reader = await log.openReader(partition);
  try {
    const records: LogRecord[] = [];
    let from = reader.startOffset();
    const deadline = Date.now() + READ_DEADLINE_MS;
    while (from < target) {
      if (Date.now() > deadline) assert.fail(`partition ${partition}: read up to ${from}, wanted ${target}`);
      const batch = await reader.read(from, maxBytes);
      assert.ok(batch.next >= from, 'next never goes back');
      for (const record of batch.records) {
        assert.ok(record.offset >= from && record.offset < batch.next, 'records lie in [from, next)');
      }
      records.push(...batch.records);
      from = batch.next;
    }
    return records;
  } finally {
    await reader.close();
  }
}

/** Checks that every appended payload is at its position, once and in append order per partition. */
async function assertReadable(
  log: EventLogUnderTest,
  appended: readonly { position: LogPosition; payload: Buffer }[],
): Promise<void> {
  const byPartition = new Map<number, { position: LogPosition; payload: Buffer }[]>();
  for (const a of appended) {
    const list = byPartition.get(a.position.partition) ?? [];
    list.push(a);
    byPartition.set(a.position.partition, list);
  }
  for (const [partition, list] of byPartition) {
    const records = await readPartition(
      log,
      partition,
      list.map((a) => a.position.offset),
    );
    const at = new Map(records.map((r) => [r.offset, r.payload]));
    assert.equal(at.size, records.length, `partition ${partition}: an offset was read twice`);
    for (const a of list) {
      assert.deepEqual(at.get(a.position.offset), a.payload, `payload at ${partition}/${a.position.offset}`);
    }
  }
}

/**
 * Registers the event log contract (the EventAppender port, read back
 * through LogReader) for one adapter; `create` makes a fresh log per test.
 */
export function eventLogContract(name: string, create: () => Promise<EventLogUnderTest>): void {
  const withLog = (title: string, body: (log: EventLogUnderTest) => Promise<void>): void => {
    void test(`${name}: ${title}`, async () => {
      const log = await create();
      try {
        await body(log);
      } finally {
        await log.cleanup();
      }
    });
  };

  withLog('appends resolve with a position in a partition; offsets grow per partition', async (log) => {
    const appender = await log.open();
    try {
      assert.ok(Number.isInteger(appender.partitions) && appender.partitions >= 1);
      const last = new Map<number, number>();
      for (let i = 0; i < 40; i++) {
        const position = await appender.append(payloadOf(i, 'seq'), keyOf(i));
        assert.ok(position.partition >= 0 && position.partition < appender.partitions, 'partition in range');
        assert.ok(Number.isSafeInteger(position.offset) && position.offset >= 0);
        const before = last.get(position.partition);
        if (before !== undefined)
          assert.ok(position.offset > before, `offsets grow in ${position.partition}`);
        last.set(position.partition, position.offset);
      }
      await appender.check();
    } finally {
      await appender.close();
    }
  });

  withLog(
    'concurrent appends all resolve, and each is readable at its position, intact and in order',
    async (log) => {
      const appender = await log.open();
      const payloads = Array.from({ length: 600 }, (_, i) => payloadOf(i, 'conc'));
      let positions: LogPosition[];
      try {
        positions = await Promise.all(payloads.map((p, i) => appender.append(p, keyOf(i))));
      } finally {
        await appender.close();
      }
      const seen = new Set(positions.map((p) => `${p.partition}/${p.offset}`));
      assert.equal(seen.size, positions.length, 'no two appends share a position');
      await assertReadable(
        log,
        positions.map((position, i) => ({ position, payload: payloads[i]! })),
      );
      // Within a partition, appends issued in order land in order.
      const lastOffset = new Map<number, number>();
      for (const p of positions) {
        const before = lastOffset.get(p.partition);
        if (before !== undefined)
          assert.ok(p.offset > before, 'issue order is offset order within a partition');
        lastOffset.set(p.partition, p.offset);
      }
    },
  );

  withLog(
    'read(next) continues exactly where the previous read stopped, whatever the chunk size',
    async (log) => {
      const appender = await log.open();
      const positions: LogPosition[] = [];
      try {
        for (let i = 0; i < 60; i++)
          positions.push(await appender.append(payloadOf(i, 'chunk'), { ad: 5, imp: 'one' }));
      } finally {
        await appender.close();
      }
      const partition = positions[0]!.partition;
      const offsets = positions.map((p) => p.offset);
      const small = await readPartition(log, partition, offsets, 64);
      const large = await readPartition(log, partition, offsets, 1 << 20);
      assert.deepEqual(
        small.map((r) => r.offset),
        large.map((r) => r.offset),
      );
      assert.deepEqual(
        small.map((r) => r.payload),
        large.map((r) => r.payload),
      );
      assert.deepEqual(
        small.map((r) => r.offset),
        offsets,
      );
    },
  );

  withLog('the same key always lands on the same partition (an ad that is not hot)', async (log) => {
    const appender = await log.open();
    try {
      for (const ad of [1, 2, 3, 7, 11]) {
        const partitions = new Set<number>();
        for (let i = 0; i < 5; i++)
          partitions.add((await appender.append(payloadOf(i, 'key'), { ad, imp: `i${i}` })).partition);
        assert.equal(partitions.size, 1, `ad ${ad} went to ${[...partitions].join(',')}`);
      }
    } finally {
      await appender.close();
    }
  });

  withLog('records survive close and reopen; appends after the reopen come after them', async (log) => {
    const first = await log.open();
    const before: { position: LogPosition; payload: Buffer }[] = [];
    for (let i = 0; i < 20; i++) {
      const payload = payloadOf(i, 'before');
      before.push({ position: await first.append(payload, { ad: 9, imp: `b${i}` }), payload });
    }
    await first.close();
    const second = await log.open();
    let after: LogPosition;
    try {
      after = await second.append(payloadOf(0, 'after'), { ad: 9, imp: 'a0' });
    } finally {
      await second.close();
    }
    assert.equal(after.partition, before[0]!.position.partition);
    assert.ok(after.offset > before[before.length - 1]!.position.offset);
    await assertReadable(log, [...before, { position: after, payload: payloadOf(0, 'after') }]);
  });

  withLog('append after close rejects', async (log) => {
    const appender = await log.open();
    await appender.append(payloadOf(1, 'closed'), keyOf(1));
    await appender.close();
    await assert.rejects(appender.append(payloadOf(2, 'closed'), keyOf(2)));
  });
}
