import assert from 'node:assert/strict';
import { readdirSync, readlinkSync, statSync, unlinkSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir, readAll } from '../../../test/log/log-test-helpers.js';
import type { RetentionPolicy } from '../event-log.js';
import { LogClosedError, LogCorruptError } from '../log-errors.js';
import { openFileEventLog, type FileEventLog } from './file-event-log.js';
import { parseSegmentFileName } from './segment-files.js';

const SEGMENT_BYTES = 1024;
const HOUR = 3_600_000;
const payloadOf = (i: number): Buffer =>
  Buffer.from(`record-${String(i).padStart(5, '0')}-${'x'.repeat(90)}`);

interface OnDisk {
  readonly base: number;
  readonly path: string;
  readonly size: number;
}

function segmentsOnDisk(dir: string): OnDisk[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const base = parseSegmentFileName(name);
      const path = join(dir, name);
      return base === undefined ? [] : [{ base, path, size: statSync(path).size }];
    })
    .sort((a, b) => a.base - b.base);
}

/**
 * A log of `count` records, 10 to a segment of 1 KiB (111-byte frames). Not
 * a multiple of 10, so no roll is still running when the last append resolves.
 */
async function filledLog(dir: string, count = 95): Promise<FileEventLog> {
  const log = await openFileEventLog(dir, { segmentBytes: SEGMENT_BYTES });
  for (let i = 0; i < count; i++) await log.append(payloadOf(i));
  return log;
}

/** Sets the mtime of every segment file: `ageOf(index)` ms before `now`. */
function ageSegments(dir: string, now: number, ageOf: (index: number) => number): void {
  segmentsOnDisk(dir).forEach((s, i) => {
    const at = new Date(now - ageOf(i));
    utimesSync(s.path, at, at);
  });
}

const policy = (p: Partial<RetentionPolicy> & { consumedBelow: number }): RetentionPolicy => ({
  now: Date.now(),
  maxAgeMs: 0,
  maxBytes: undefined,
  ...p,
});

/** Every record from startOffset() on must be intact and in order, and the payloads those of records first..last. */
async function checkRemaining(log: FileEventLog, first: number, last: number): Promise<void> {
  const records = await readAll(log);
  assert.equal(records[0]!.offset, log.startOffset());
  assert.deepEqual(
    records.map((r) => r.payload.toString()),
    Array.from({ length: last - first + 1 }, (_, k) => payloadOf(first + k).toString()),
  );
}

const recordIndexAt = (offset: number): number => offset / (8 + payloadOf(0).length);

void test('only segments wholly below consumedBelow are deleted; reads below the new start are a RangeError', async () => {
  const { dir, remove } = makeTempDir('log-ret-consumed');
  try {
    const log = await filledLog(dir);
    const before = segmentsOnDisk(dir);
    assert.ok(before.length >= 10);
    // A consumer stopped in the middle of the fourth segment: the first three are consumed.
    const consumedBelow = before[3]!.base + 100;
    const result = await log.applyRetention(policy({ consumedBelow, now: Date.now() + HOUR }));
    assert.equal(result.deletedSegments, 3);
    assert.equal(
      result.deletedBytes,
      before.slice(0, 3).reduce((sum, s) => sum + s.size, 0),
    );
    assert.deepEqual(
      segmentsOnDisk(dir).map((s) => s.base),
      before.slice(3).map((s) => s.base),
    );
    assert.equal(log.startOffset(), before[3]!.base);
    // Below the start is an error naming the first kept offset, although the tail copies in memory still hold it.
    await assert.rejects(
      log.read(0, 1000),
      (e: unknown) => e instanceof RangeError && e.message.includes(`starts at offset ${before[3]!.base}`),
    );
    await checkRemaining(log, recordIndexAt(before[3]!.base), 94);
    // Nothing consumed beyond: a second pass deletes nothing.
    assert.equal(
      (await log.applyRetention(policy({ consumedBelow, now: Date.now() + HOUR }))).deletedSegments,
      0,
    );
    await log.close();
  } finally {
    remove();
  }
});

void test('only consumed segments older than maxAgeMs are deleted, oldest first, stopping at the first young one', async () => {
  const { dir, remove } = makeTempDir('log-ret-age');
  try {
    const log = await filledLog(dir);
    const before = segmentsOnDisk(dir);
    const now = Date.now();
    // Segments 0-3 are 3 h old, 4 is 10 min old, 5 is 3 h old again (its mtime was touched back), the rest now.
    ageSegments(dir, now, (i) => (i <= 3 || i === 5 ? 3 * HOUR : i === 4 ? HOUR / 6 : 0));
    const result = await log.applyRetention(
      policy({ consumedBelow: log.durableEnd(), now, maxAgeMs: 2 * HOUR }),
    );
    assert.equal(result.deletedSegments, 4, 'the prefix of old segments, not segment 5 behind a young one');
    assert.equal(log.startOffset(), before[4]!.base);
    // Old but not consumed: kept.
    ageSegments(dir, now, () => 3 * HOUR);
    const notConsumed = await log.applyRetention(
      policy({ consumedBelow: before[4]!.base + 1, now, maxAgeMs: 2 * HOUR }),
    );
    assert.equal(notConsumed.deletedSegments, 0);
    await checkRemaining(log, recordIndexAt(before[4]!.base), 94);
    await log.close();
  } finally {
    remove();
  }
});

void test('the byte cap deletes consumed segments whatever their age, and never unconsumed ones', async () => {
  const { dir, remove } = makeTempDir('log-ret-cap');
  try {
    const log = await filledLog(dir);
    const before = segmentsOnDisk(dir);
    const total = before.reduce((sum, s) => sum + s.size, 0);
    assert.equal(log.storage().bytes, total, 'storage() is what is on disk');
    const maxBytes = Math.floor(total / 2);
    const young = { now: Date.now(), maxAgeMs: 7 * 24 * HOUR, maxBytes };
    const capped = await log.applyRetention(policy({ consumedBelow: log.durableEnd(), ...young }));
    const after = segmentsOnDisk(dir);
    const left = after.reduce((sum, s) => sum + s.size, 0);
    assert.ok(left <= maxBytes, `${left} bytes left, cap ${maxBytes}`);
    assert.ok(left + before[capped.deletedSegments - 1]!.size > maxBytes, 'no more deleted than needed');
    assert.deepEqual(capped.storage, { bytes: left, segments: after.length });
    assert.equal(capped.overCapBytes, 0);
    assert.equal(capped.deletedBytes, total - left);

    // Over the cap again, but the consumer is behind: only what it consumed goes, the rest is reported.
    for (let i = 95; i < 195; i++) await log.append(payloadOf(i));
    const consumedBelow = segmentsOnDisk(dir)[2]!.base;
    const behind = await log.applyRetention(policy({ consumedBelow, ...young, maxBytes: 2048 }));
    assert.equal(behind.deletedSegments, 2);
    assert.equal(log.startOffset(), consumedBelow);
    assert.equal(behind.overCapBytes, log.storage().bytes - 2048);
    assert.ok(behind.overCapBytes > 0);
    await checkRemaining(log, recordIndexAt(consumedBelow), 194);
    await log.close();
  } finally {
    remove();
  }
});

void test('the active segment is never deleted, and appends and reads go on after everything else is', async () => {
  const { dir, remove } = makeTempDir('log-ret-active');
  try {
    const log = await filledLog(dir);
    const end = log.durableEnd();
    const result = await log.applyRetention(
      policy({ consumedBelow: end, now: Date.now() + 24 * HOUR, maxBytes: 1 }),
    );
    const left = segmentsOnDisk(dir);
    assert.equal(left.length, 1);
    assert.equal(log.startOffset(), left[0]!.base);
    assert.ok(result.overCapBytes > 0, 'the active segment alone is over a 1-byte cap');
    assert.deepEqual(log.storage(), { bytes: left[0]!.size, segments: 1 });
    const next = await log.append(payloadOf(95));
    assert.equal(next, end);
    await checkRemaining(log, recordIndexAt(left[0]!.base), 95);
    await log.close();
    await assert.rejects(log.applyRetention(policy({ consumedBelow: end })), LogClosedError);
  } finally {
    remove();
  }
});

void test('a log reopened after retention starts at its first remaining segment, and appends continue', async () => {
  const { dir, remove } = makeTempDir('log-ret-restart');
  try {
    const log = await filledLog(dir);
    const before = segmentsOnDisk(dir);
    await log.applyRetention(policy({ consumedBelow: before[5]!.base, now: Date.now() + HOUR }));
    const end = log.durableEnd();
    await log.close();
    const reopened = await openFileEventLog(dir, { segmentBytes: SEGMENT_BYTES });
    assert.equal(reopened.startOffset(), before[5]!.base);
    assert.equal(reopened.durableEnd(), end);
    assert.equal(reopened.recovery.truncatedBytes, 0);
    assert.deepEqual(reopened.storage(), {
      bytes: segmentsOnDisk(dir).reduce((sum, s) => sum + s.size, 0),
      segments: segmentsOnDisk(dir).length,
    });
    await assert.rejects(reopened.read(before[4]!.base, 100), RangeError);
    assert.equal(await reopened.append(payloadOf(95)), end);
    await checkRemaining(reopened, recordIndexAt(before[5]!.base), 95);
    await reopened.close();
  } finally {
    remove();
  }
});

void test('a crash between unlinks leaves a prefix deleted, which opens fine; a gap in the middle is corruption', async () => {
  const { dir, remove } = makeTempDir('log-ret-crash');
  try {
    const log = await filledLog(dir);
    await log.close();
    const before = segmentsOnDisk(dir);
    // What a crash after the first two of four unlinks leaves (retention unlinks oldest first).
    unlinkSync(before[0]!.path);
    unlinkSync(before[1]!.path);
    const reopened = await openFileEventLog(dir, { segmentBytes: SEGMENT_BYTES });
    assert.equal(reopened.startOffset(), before[2]!.base);
    await checkRemaining(reopened, recordIndexAt(before[2]!.base), 94);
    // The next pass finishes the job.
    const result = await reopened.applyRetention(
      policy({ consumedBelow: before[4]!.base, now: Date.now() + HOUR }),
    );
    assert.equal(result.deletedSegments, 2);
    assert.equal(reopened.startOffset(), before[4]!.base);
    await reopened.close();
    unlinkSync(before[6]!.path); // not a prefix: never what retention leaves
    await assert.rejects(
      openFileEventLog(dir),
      (e: unknown) => e instanceof LogCorruptError && e.file === before[5]!.path,
    );
  } finally {
    remove();
  }
});

void test('a read racing a retention pass returns intact records or a RangeError', async () => {
  const { dir, remove } = makeTempDir('log-ret-race');
  try {
    const log = await filledLog(dir, 295);
    await log.close();
    // No tail copies: every read goes to the files.
    const reopened = await openFileEventLog(dir, { segmentBytes: SEGMENT_BYTES, recentBytes: 0 });
    const before = segmentsOnDisk(dir);
    const outcomes = { records: 0, rangeErrors: 0 };
    for (let round = 0; round < 4; round++) {
      const from = reopened.startOffset();
      const reads = Promise.allSettled(
        [100, 1000, 64 * 1024].map((maxBytes) => reopened.read(from, maxBytes)),
      );
      const consumedBelow = before[(round + 1) * 5]!.base;
      await reopened.applyRetention(policy({ consumedBelow, now: Date.now() + HOUR }));
      for (const settled of await reads) {
        if (settled.status === 'fulfilled') {
          settled.value.records.forEach((r, k) => {
            assert.equal(r.payload.toString(), payloadOf(recordIndexAt(from) + k).toString());
          });
          outcomes.records += settled.value.records.length;
        } else {
          assert.ok(settled.reason instanceof RangeError, String(settled.reason));
          outcomes.rangeErrors++;
        }
      }
      assert.equal(reopened.startOffset(), consumedBelow);
    }
    await checkRemaining(reopened, recordIndexAt(before[20]!.base), 294);
    assert.ok(outcomes.records > 0);
    await reopened.close();
  } finally {
    remove();
  }
});

/** Descriptors of this process open on files under `dir` that were unlinked. */
function deletedFilesOpen(dir: string): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(dir) && target.endsWith('(deleted)') ? [target] : [];
    } catch {
      return []; // closed since the listing
    }
  });
}

void test('a segment file a reader has open is readable while deleted, and its descriptor is closed after', async () => {
  const { dir, remove } = makeTempDir('log-ret-open');
  try {
    const log = await filledLog(dir);
    await log.close();
    const reopened = await openFileEventLog(dir, { segmentBytes: SEGMENT_BYTES, recentBytes: 0 });
    const before = segmentsOnDisk(dir);
    const first = await reopened.read(0, 100); // the reader now holds segment 0 open
    assert.equal(first.records.length, 1);
    const reading = reopened.read(first.next, 200); // in flight in segment 0 while it goes
    await reopened.applyRetention(policy({ consumedBelow: before[3]!.base, now: Date.now() + HOUR }));
    const raced = await reading.then(
      (batch) => batch.records.length,
      (error: unknown) => (error instanceof RangeError ? 'RangeError' : error),
    );
    assert.ok(typeof raced === 'number' || raced === 'RangeError', String(raced));
    await new Promise((resolve) => setTimeout(resolve, 50)); // forgotten handles close once reads are done
    assert.deepEqual(deletedFilesOpen(dir), []);
    await reopened.close();
  } finally {
    remove();
  }
});

void test('a policy that makes no sense is a RangeError naming the field', async () => {
  const { dir, remove } = makeTempDir('log-ret-policy');
  try {
    const log = await filledLog(dir, 5);
    await assert.rejects(log.applyRetention(policy({ consumedBelow: -1 })), /consumedBelow/);
    await assert.rejects(log.applyRetention(policy({ consumedBelow: 0, maxAgeMs: -1 })), /maxAgeMs/);
    await assert.rejects(log.applyRetention(policy({ consumedBelow: 0, maxBytes: 0 })), /maxBytes/);
    await log.close();
  } finally {
    remove();
  }
});
