import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir, readAll } from '../../../test/log/log-test-helpers.js';
import type { LogRecord } from '../event-log.js';
import { LogWriteError } from '../log-errors.js';
import { frameSize } from '../record-framing.js';
import { openFileEventLog, type FileEventLog, type FlushIo } from './file-event-log.js';
import { parseSegmentFileName } from './segment-files.js';

/** Payload of record `i`: its number, then filler of 0-700 bytes, so frames differ in size. */
const payloadOf = (i: number): Buffer => Buffer.from(`r${i}:${'x'.repeat((i * 7919) % 701)}`);
const MAX_FRAME = frameSize(payloadOf(0).length + 701 + 10);

/** [base, size] of every segment file, sorted by base. */
function segmentsOnDisk(dir: string): { base: number; size: number }[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const base = parseSegmentFileName(name);
      return base === undefined ? [] : [{ base, size: statSync(join(dir, name)).size }];
    })
    .sort((a, b) => a.base - b.base);
}

/** The bound: every record of a segment starts below base + segmentBytes, so a file is at most one frame over. */
function checkSegmentBound(dir: string, segmentBytes: number, records: readonly LogRecord[]): void {
  const segments = segmentsOnDisk(dir);
  for (const s of segments) {
    assert.ok(s.size <= segmentBytes + MAX_FRAME, `segment ${s.base} is ${s.size} bytes`);
  }
  let i = 0;
  for (const record of records) {
    while (i + 1 < segments.length && segments[i + 1]!.base <= record.offset) i++;
    const at = record.offset - segments[i]!.base;
    assert.ok(at < segmentBytes, `record at ${record.offset} starts ${at} bytes into its segment`);
  }
}

/** Appends record `i`, checking that its promise resolves only once its own bytes are durable. */
async function appendChecked(log: FileEventLog, i: number): Promise<number> {
  const payload = payloadOf(i);
  const offset = await log.append(payload);
  assert.ok(log.durableEnd() >= offset + frameSize(payload.length), `record ${i} acked before durable`);
  return offset;
}

void test('concurrent appends never carry a segment more than one record past segmentBytes', async (t) => {
  const { dir, remove } = makeTempDir('log-bound');
  try {
    const segmentBytes = 4096;
    const flushes: { records: number; bytes: number }[] = [];
    const log = await openFileEventLog(dir, {
      segmentBytes,
      preallocateBytes: 1024,
      observer: { onFlush: (f) => flushes.push(f) },
    });
    const appenders = 64;
    const perAppender = 40;
    const offsetOf = new Map<number, number>();
    await Promise.all(
      Array.from({ length: appenders }, async (_, a) => {
        for (let k = 0; k < perAppender; k++) {
          const i = a * perAppender + k;
          offsetOf.set(i, await appendChecked(log, i));
        }
      }),
    );
    // And one burst made in one tick: a single batch of ~40 segments, split at every limit.
    const burst = Array.from({ length: 400 }, (_, k) => appenders * perAppender + k);
    const burstOffsets = await Promise.all(burst.map((i) => appendChecked(log, i)));
    burst.forEach((i, k) => offsetOf.set(i, burstOffsets[k]!));
    const total = offsetOf.size;
    assert.equal(
      flushes.reduce((sum, f) => sum + f.records, 0),
      total,
      'every append settled by exactly one flush',
    );
    const live = await readAll(log);
    checkSegmentBound(dir, segmentBytes, live);
    const end = log.durableEnd();
    await log.close();

    const reopened = await openFileEventLog(dir, { segmentBytes });
    assert.equal(reopened.recovery.truncatedBytes, 0);
    assert.equal(reopened.durableEnd(), end);
    const records = await readAll(reopened);
    assert.equal(records.length, total);
    const byOffset = new Map(records.map((r) => [r.offset, r.payload.toString()]));
    for (const [i, offset] of offsetOf)
      assert.equal(byOffset.get(offset), payloadOf(i).toString(), `record ${i}`);
    for (let j = 1; j < records.length; j++) {
      assert.equal(records[j]!.offset, records[j - 1]!.offset + frameSize(records[j - 1]!.payload.length));
    }
    checkSegmentBound(dir, segmentBytes, records);
    const later = await reopened.append(payloadOf(0));
    assert.equal(later, end);
    await reopened.close();
    t.diagnostic(
      `${total} records in ${flushes.length} flushes, ${segmentsOnDisk(dir).length} segments, largest ${Math.max(...segmentsOnDisk(dir).map((s) => s.size))} bytes`,
    );
  } finally {
    remove();
  }
});

void test('a log reopened with a smaller segmentBytes rolls before its first write', async () => {
  const { dir, remove } = makeTempDir('log-bound-shrink');
  try {
    const log = await openFileEventLog(dir, { segmentBytes: 64 * 1024 });
    for (let i = 0; i < 20; i++) await log.append(payloadOf(i));
    const firstEnd = log.durableEnd();
    await log.close();
    const smaller = await openFileEventLog(dir, { segmentBytes: 1024 });
    const offset = await smaller.append(payloadOf(20));
    assert.equal(offset, firstEnd);
    assert.deepEqual(
      segmentsOnDisk(dir).map((s) => s.base),
      [0, firstEnd],
      'the oversized active segment was sealed as it was',
    );
    await smaller.close();
  } finally {
    remove();
  }
});

void test('a failed write after a split rejects only the part not yet durable', async () => {
  const { dir, remove } = makeTempDir('log-bound-fault');
  try {
    let writes = 0;
    const injected = new Error('EIO: injected write failure');
    const io: FlushIo = {
      write: async (handle, data, position) => {
        if (++writes === 2) throw injected; // the part that goes into the second segment
        await handle.write(data, 0, data.length, position);
      },
      datasync: (handle) => handle.datasync(),
    };
    const segmentBytes = 2048;
    const log = await openFileEventLog(dir, { segmentBytes, preallocateBytes: 0, io });
    const burst = Array.from({ length: 10 }, (_, i) => payloadOf(i * 3));
    const settled = await Promise.allSettled(burst.map((p) => log.append(p)));
    const firstRejected = settled.findIndex((s) => s.status === 'rejected');
    assert.ok(firstRejected > 0, 'the first part was acknowledged');
    for (const s of settled.slice(firstRejected)) {
      assert.ok(s.status === 'rejected' && s.reason instanceof LogWriteError && s.reason.cause === injected);
    }
    const acked = settled.slice(0, firstRejected).map((s) => (s.status === 'fulfilled' ? s.value : -1));
    assert.ok(acked.at(-1)! < segmentBytes, 'the acknowledged part starts below the limit');
    assert.ok(log.durableEnd() >= segmentBytes, 'and reaches past it');
    await log.close().catch(() => undefined);
    const reopened = await openFileEventLog(dir, { segmentBytes });
    assert.deepEqual(
      (await readAll(reopened)).map((r) => r.offset),
      acked,
      'exactly the acknowledged records are kept',
    );
    await reopened.close();
  } finally {
    remove();
  }
});
