import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, readdirSync, statSync, truncateSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir, readAll } from '../../../test/log/log-test-helpers.js';
import type { EventLog } from '../event-log.js';
import { LogClosedError, LogCorruptError } from '../log-errors.js';
import { FRAME_HEADER_BYTES } from '../record-framing.js';
import { LogLockedError } from './dir-lock.js';
import { openFileEventLog } from './file-event-log.js';

const payloadOf = (i: number): Buffer => Buffer.from(`record-${i}-${'p'.repeat(i % 97)}`);

function segmentFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.seg'))
    .sort();
}

/** Appends `count` records one after another; returns their offsets. */
async function appendSequentially(log: EventLog, first: number, count: number): Promise<number[]> {
  const offsets: number[] = [];
  for (let i = first; i < first + count; i++) offsets.push(await log.append(payloadOf(i)));
  return offsets;
}

void test('concurrent appenders share fsyncs, roll segments, and every record reads back once in order', async (t) => {
  const { dir, remove } = makeTempDir('log-concurrent');
  try {
    const flushes: number[] = [];
    const log = await openFileEventLog(dir, {
      segmentBytes: 64 * 1024,
      observer: { onFlush: (f) => flushes.push(f.records) },
    });
    const appenders = 50;
    const perAppender = 100;
    const resolvedInOrder: number[] = [];
    const offsetOf = new Map<number, number>();
    await Promise.all(
      Array.from({ length: appenders }, async (_, a) => {
        for (let k = 0; k < perAppender; k++) {
          const i = a * perAppender + k;
          const offset = await log.append(payloadOf(i));
          resolvedInOrder.push(offset);
          offsetOf.set(i, offset);
        }
      }),
    );
    const total = appenders * perAppender;
    assert.equal(new Set(resolvedInOrder).size, total, 'offsets are unique');
    for (let j = 1; j < total; j++)
      assert.ok(resolvedInOrder[j - 1]! < resolvedInOrder[j]!, 'acks come in offset order');
    assert.equal(
      flushes.reduce((a, b) => a + b, 0),
      total,
    );
    const meanPerFlush = total / flushes.length;
    assert.ok(meanPerFlush > 1, `mean records per flush ${meanPerFlush}`);
    assert.ok(segmentFiles(dir).length >= 3, `segments: ${segmentFiles(dir).join(', ')}`);
    await log.close();

    const reopened = await openFileEventLog(dir);
    assert.equal(reopened.recovery.truncatedBytes, 0);
    const records = await readAll(reopened);
    assert.equal(records.length, total);
    for (let j = 1; j < records.length; j++) assert.ok(records[j - 1]!.offset < records[j]!.offset);
    const byOffset = new Map(records.map((r) => [r.offset, r.payload.toString()]));
    for (let i = 0; i < total; i++) assert.equal(byOffset.get(offsetOf.get(i)!), payloadOf(i).toString());
    await reopened.close();
    t.diagnostic(
      `concurrent: ${total} records, ${flushes.length} flushes, mean ${meanPerFlush.toFixed(1)} records per fsync, ${segmentFiles(dir).length} segments`,
    );
  } finally {
    remove();
  }
});

void test('a burst of appends made in one tick goes out as one flush, offsets in call order', async () => {
  const { dir, remove } = makeTempDir('log-burst');
  try {
    const flushes: { records: number; bytes: number }[] = [];
    const log = await openFileEventLog(dir, { observer: { onFlush: (f) => flushes.push(f) } });
    const burst = Array.from({ length: 5000 }, (_, i) => payloadOf(i)); // ~300 KB: the batch buffer grows
    const offsets = await Promise.all(burst.map((p) => log.append(p)));
    assert.deepEqual(
      flushes.map((f) => f.records),
      [5000],
    );
    for (let i = 1; i < offsets.length; i++) {
      assert.equal(offsets[i], offsets[i - 1]! + FRAME_HEADER_BYTES + burst[i - 1]!.length);
    }
    assert.equal(log.durableEnd(), flushes[0]!.bytes);
    const records = await readAll(log);
    assert.deepEqual(
      records.map((r) => r.payload),
      burst,
    );
    await log.close();
  } finally {
    remove();
  }
});

/** Ways a last segment gets damaged; each says whether the last record is lost with it. */
const damages: {
  name: string;
  losesLastRecord: boolean;
  damage: (segment: string, lastFrame: number) => void;
}[] = [
  {
    name: 'torn mid-payload',
    losesLastRecord: true,
    damage: (segment, lastFrame) => cutBy(segment, lastFrame - FRAME_HEADER_BYTES - 3),
  },
  {
    name: 'torn mid-header',
    losesLastRecord: true,
    damage: (segment, lastFrame) => cutBy(segment, lastFrame - 3),
  },
  {
    name: 'random garbage appended',
    losesLastRecord: false,
    damage: (segment) => appendFileSync(segment, randomBytes(1000)),
  },
  {
    name: 'zeros appended (space allocated, never written)',
    losesLastRecord: false,
    damage: (segment) => appendFileSync(segment, Buffer.alloc(4096)),
  },
];

function cutBy(segment: string, bytes: number): void {
  truncateSync(segment, statSync(segment).size - bytes);
}

for (const { name, losesLastRecord, damage } of damages) {
  void test(`recovery keeps every whole record and cuts a damaged tail: ${name}`, async () => {
    const { dir, remove } = makeTempDir('log-torn');
    try {
      const log = await openFileEventLog(dir, { segmentBytes: 2048 });
      await appendSequentially(log, 0, 100);
      await log.close();
      const lastSegment = join(dir, segmentFiles(dir).at(-1)!);
      const lastFrame = FRAME_HEADER_BYTES + payloadOf(99).length;
      const validSize = statSync(lastSegment).size - (losesLastRecord ? lastFrame : 0);
      damage(lastSegment, lastFrame);
      const damagedSize = statSync(lastSegment).size;

      const recovered = await openFileEventLog(dir, { segmentBytes: 2048 });
      assert.equal(recovered.recovery.truncatedBytes, damagedSize - validSize);
      assert.equal(statSync(lastSegment).size, validSize);
      assert.ok(recovered.recovery.truncation !== undefined);
      const kept = losesLastRecord ? 99 : 100;
      const records = await readAll(recovered);
      assert.deepEqual(
        records.map((r) => r.payload.toString()),
        Array.from({ length: kept }, (_, i) => payloadOf(i).toString()),
      );
      const later = await appendSequentially(recovered, 1000, 20);
      // appends continue right where the last whole record ends
      assert.equal(later[0], records.at(-1)!.offset + FRAME_HEADER_BYTES + payloadOf(kept - 1).length);
      await recovered.close();

      const again = await openFileEventLog(dir);
      assert.equal(again.recovery.truncatedBytes, 0);
      const all = await readAll(again, 300);
      assert.equal(all.length, kept + 20);
      assert.deepEqual(
        all.slice(kept).map((r) => r.offset),
        later,
      );
      assert.equal(all.at(-1)!.payload.toString(), payloadOf(1019).toString());
      await again.close();
    } finally {
      remove();
    }
  });
}

void test('small reads cross segments, and resuming from next yields the same sequence', async () => {
  const { dir, remove } = makeTempDir('log-read');
  try {
    const log = await openFileEventLog(dir, { segmentBytes: 1024 });
    await appendSequentially(log, 0, 300);
    await log.append(Buffer.alloc(5000, 'b')); // larger than maxBytes: comes back alone
    assert.ok(segmentFiles(dir).length > 5);
    const whole = await readAll(log, 64 * 1024 * 1024);
    assert.equal(whole.length, 301);
    for (const maxBytes of [1, 100, 333, 4096]) {
      let from = log.startOffset();
      const pieces: string[] = [];
      for (;;) {
        const batch = await log.read(from, maxBytes);
        if (batch.records.length === 0) break;
        if (batch.records.length > 1) assert.ok(batch.next - from <= maxBytes, `batch over ${maxBytes}`);
        assert.equal(batch.records[0]!.offset, from);
        pieces.push(...batch.records.map((r) => `${r.offset}:${r.payload.toString()}`));
        from = batch.next;
      }
      assert.deepEqual(
        pieces,
        whole.map((r) => `${r.offset}:${r.payload.toString()}`),
      );
      assert.equal(from, log.durableEnd());
    }
    assert.deepEqual(await log.read(log.durableEnd(), 100), { records: [], next: log.durableEnd() });
    await assert.rejects(log.read(log.durableEnd() + 1, 100), RangeError);
    await log.close();
  } finally {
    remove();
  }
});

void test('close flushes pending appends; appends and reads after close reject', async () => {
  const { dir, remove } = makeTempDir('log-close');
  try {
    const log = await openFileEventLog(dir);
    const pending = Array.from({ length: 10 }, (_, i) => log.append(payloadOf(i)));
    const closed = log.close();
    await assert.rejects(log.append(payloadOf(99)), LogClosedError);
    assert.equal((await Promise.all(pending)).length, 10);
    await closed;
    await assert.rejects(log.append(payloadOf(100)), LogClosedError);
    await assert.rejects(log.read(0, 100), LogClosedError);
    await log.close(); // idempotent
    const reopened = await openFileEventLog(dir);
    assert.equal((await readAll(reopened)).length, 10);
    await reopened.close();
  } finally {
    remove();
  }
});

void test('a bit flipped in a sealed segment is a LogCorruptError naming the file, never skipped', async () => {
  const { dir, remove } = makeTempDir('log-corrupt');
  try {
    const log = await openFileEventLog(dir, { segmentBytes: 1024 });
    await appendSequentially(log, 0, 100);
    await log.close();
    const first = join(dir, segmentFiles(dir)[0]!);
    const bytes = readFileSync(first);
    bytes[10]! ^= 0x10; // inside the first record's payload
    writeFileSync(first, bytes);
    const reopened = await openFileEventLog(dir);
    await assert.rejects(
      reopened.read(0, 100),
      (e: unknown) => e instanceof LogCorruptError && e.file === first && e.position === 0,
    );
    await reopened.close();

    truncateSync(first, bytes.length - 1); // a sealed segment that lost a byte
    await assert.rejects(
      openFileEventLog(dir),
      (e: unknown) => e instanceof LogCorruptError && e.file === first,
    );
  } finally {
    remove();
  }
});

void test('a second open of the same directory is refused while the first holds it, and allowed after close', async () => {
  const { dir, remove } = makeTempDir('log-lock');
  try {
    const first = await openFileEventLog(dir);
    await assert.rejects(
      openFileEventLog(dir),
      (e: unknown) => e instanceof LogLockedError && /in use by process/.test(e.message),
    );
    await first.close();
    const second = await openFileEventLog(dir);
    await second.close();
  } finally {
    remove();
  }
});

void test('a LOCK naming this process pid but not taken by it is stale (pid reuse after a restart)', async () => {
  const { dir, remove } = makeTempDir('log-lock-pid');
  try {
    writeFileSync(join(dir, 'LOCK'), `${process.pid}\n`);
    const log = await openFileEventLog(dir);
    await log.close();
  } finally {
    remove();
  }
});

void test('the active segment is preallocated with zeros ahead of the records, never past the segment size, and cut on close', async () => {
  const { dir, remove } = makeTempDir('log-prealloc');
  try {
    const segmentBytes = 64 * 1024;
    const log = await openFileEventLog(dir, { segmentBytes, preallocateBytes: 16 * 1024 });
    const payload = Buffer.alloc(1000, 7);
    await log.append(payload);
    const first = join(
      dir,
      readdirSync(dir)
        .filter((f) => f.endsWith('.seg'))
        .sort()[0]!,
    );
    assert.equal(statSync(first).size, 16 * 1024 + 1008, 'zeros written past the first record');
    for (let i = 0; i < 100; i++) await log.append(payload); // rolls past 64 KiB
    const segments = readdirSync(dir)
      .filter((f) => f.endsWith('.seg'))
      .sort();
    assert.ok(segments.length >= 2);
    const sealedSize = statSync(join(dir, segments[0]!)).size;
    assert.ok(
      sealedSize >= segmentBytes && sealedSize < segmentBytes + 1008,
      `sealed ends at its last record: ${sealedSize}`,
    );
    const end = log.durableEnd();
    await log.close();
    const active = segments.at(-1)!;
    assert.equal(
      statSync(join(dir, active)).size,
      end - Number(active.replace('.seg', '')),
      'close cut the zeros',
    );
    const reopened = await openFileEventLog(dir);
    assert.equal(reopened.recovery.truncatedBytes, 0, 'a clean stop leaves no torn tail');
    assert.equal((await readAll(reopened)).length, 101);
    await reopened.close();
  } finally {
    remove();
  }
});

void test('reads at the tail come from memory and equal what the segment files give after a reopen', async () => {
  const { dir, remove } = makeTempDir('log-recent');
  try {
    const log = await openFileEventLog(dir, { segmentBytes: 4096 });
    await Promise.all(Array.from({ length: 300 }, (_, i) => log.append(Buffer.from(`record-${i}`))));
    const live = await readAll(log, 100); // small budgets split batches
    const end = log.durableEnd();
    await log.close();
    const reopened = await openFileEventLog(dir, { recentBytes: 0 });
    const fromDisk = await readAll(reopened, 100);
    assert.equal(reopened.durableEnd(), end);
    assert.equal(live.length, 300);
    assert.deepEqual(
      live.map((r) => [r.offset, r.payload.toString()]),
      fromDisk.map((r) => [r.offset, r.payload.toString()]),
    );
    await reopened.close();
  } finally {
    remove();
  }
});
