import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { makeTempDir } from '../../../test/log/log-test-helpers.js';
import type { LogReader, LogRecord } from '../event-log.js';
import { openFollowedEventLog, openLogFollower } from '../open-event-log.js';

const payloadOf = (i: number): Buffer => Buffer.from(`r${i}:${'y'.repeat((i * 131) % 300)}`);

/** Everything `reader` holds from `from` up to its durable end now. */
async function readToEnd(reader: LogReader, from: number): Promise<{ records: LogRecord[]; next: number }> {
  const records: LogRecord[] = [];
  let next = from;
  while (next < reader.durableEnd()) {
    const batch = await reader.read(next, 4096);
    records.push(...batch.records);
    next = batch.next;
  }
  return { records, next };
}

test('a follower reads what the writer made durable, across segment rolls, never past the durable end', async () => {
  const { dir, remove } = makeTempDir('adtally-follower-');
  const { log, follow } = await openFollowedEventLog(`file:${dir}`, { segmentBytes: 2048 });
  const follower = await openLogFollower(follow);
  try {
    const offsets: number[] = [];
    let next = follower.startOffset();
    const seen: LogRecord[] = [];
    for (let round = 0; round < 20; round++) {
      // A round of concurrent appends (one group commit or a few), then what the follower sees.
      const appended = await Promise.all(
        Array.from({ length: 25 }, (_, k) => log.append(payloadOf(round * 25 + k))),
      );
      offsets.push(...appended);
      assert.equal(follower.durableEnd(), log.durableEnd(), 'the cell carries the writer durable end');
      const got = await readToEnd(follower, next);
      seen.push(...got.records);
      next = got.next;
      assert.equal(next, log.durableEnd());
    }
    assert.deepEqual(
      seen.map((r) => r.offset),
      offsets,
      'every record once, in order, at the offset its append resolved with',
    );
    seen.forEach((record, i) => assert.deepEqual(record.payload, payloadOf(i)));
    const segments = readdirSync(dir).filter((name) => name.endsWith('.seg'));
    assert.ok(segments.length > 5, `the log rolled segments while it was followed (${segments.length})`);
  } finally {
    await follower.close();
    await log.close();
    remove();
  }
});

test('a follower keeps reading after retention deleted the segments below what it consumed', async () => {
  const { dir, remove } = makeTempDir('adtally-follower-');
  const { log, follow } = await openFollowedEventLog(`file:${dir}`, { segmentBytes: 1024 });
  const follower = await openLogFollower(follow);
  try {
    await Promise.all(Array.from({ length: 60 }, (_, i) => log.append(payloadOf(i))));
    const first = await readToEnd(follower, follower.startOffset());
    const result = await log.applyRetention({
      consumedBelow: first.next,
      now: Date.now() + 3_600_000,
      maxAgeMs: 0,
      maxBytes: undefined,
    });
    assert.ok(result.deletedSegments > 0, 'retention deleted consumed segments');
    const more = await Promise.all(Array.from({ length: 60 }, (_, i) => log.append(payloadOf(60 + i))));
    const second = await readToEnd(follower, first.next);
    assert.deepEqual(
      second.records.map((r) => r.offset),
      more,
    );
  } finally {
    await follower.close();
    await log.close();
    remove();
  }
});
