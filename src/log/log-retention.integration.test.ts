import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeTempDir, readAll } from '../../test/log/log-test-helpers.js';
import { Metrics } from '../metrics/metrics.js';
import type { RetentionResult } from './event-log.js';
import { openFileEventLog, type FileEventLog } from './file/file-event-log.js';
import { defaultRetentionIntervalMs, startLogRetention } from './log-retention.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(10);
  }
}

async function filledLog(dir: string): Promise<FileEventLog> {
  const log = await openFileEventLog(dir, { segmentBytes: 1024 });
  for (let i = 0; i < 95; i++)
    await log.append(Buffer.from(`record-${String(i).padStart(5, '0')}-${'x'.repeat(90)}`)); // 111-byte frames
  return log;
}

/** The value of an unlabelled metric in Prometheus text. */
async function metricValue(metrics: Metrics, name: string): Promise<number> {
  const line = (await metrics.registry.metrics()).split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line !== undefined, `${name} is exported`);
  return Number(line.split(' ')[1]);
}

void test('retention runs in the background up to the consumers offset; stop() ends it', async () => {
  const { dir, remove } = makeTempDir('log-ret-loop');
  try {
    const log = await filledLog(dir);
    const metrics = new Metrics();
    metrics.watchLogStorage(() => log.storage());
    assert.equal(await metricValue(metrics, 'adtally_log_bytes'), log.storage().bytes, 'before any pass');
    assert.equal(await metricValue(metrics, 'adtally_log_segments'), 10);
    let consumed = 3 * 1110; // three segments of ten 111-byte records
    const passes: RetentionResult[] = [];
    const warnings: string[] = [];
    const stop = startLogRetention(log, {
      retentionMs: 0,
      retentionBytes: undefined,
      consumedBelow: () => consumed,
      intervalMs: 10,
      observer: {
        onRetention: (r) => {
          passes.push(r);
          metrics.onRetention(r);
        },
      },
      warn: (line) => warnings.push(line),
    });
    await until('three segments are gone', () => log.startOffset() === 3 * 1110);
    consumed = 7 * 1110 + 5; // inside the eighth segment
    await until('seven segments are gone', () => log.startOffset() === 7 * 1110);
    await until('a later pass ran', () => passes.length >= 4);
    await stop();
    const after = passes.length;
    consumed = log.durableEnd();
    await sleep(100);
    assert.equal(passes.length, after, 'no pass after stop()');
    assert.equal(log.startOffset(), 7 * 1110);
    assert.equal(await metricValue(metrics, 'adtally_log_deleted_segments_total'), 7);
    assert.equal(await metricValue(metrics, 'adtally_log_segments'), 3);
    assert.equal(await metricValue(metrics, 'adtally_log_bytes'), log.storage().bytes);
    assert.deepEqual(warnings, []);
    assert.equal((await readAll(log)).length, 95 - 70);
    await log.close();
  } finally {
    remove();
  }
});

void test('over the byte cap with unconsumed data nothing more goes, and one warning says so per period', async () => {
  const { dir, remove } = makeTempDir('log-ret-warn');
  try {
    const log = await filledLog(dir);
    let passes = 0;
    const warnings: string[] = [];
    const stop = startLogRetention(log, {
      retentionMs: 7 * 86_400_000,
      retentionBytes: 2048,
      consumedBelow: () => 2 * 1110,
      intervalMs: 5,
      observer: { onRetention: () => passes++ },
      warn: (line) => warnings.push(line),
      warnEveryMs: 60_000,
    });
    await until('several passes ran', () => passes >= 5);
    await stop();
    assert.equal(log.startOffset(), 2 * 1110, 'only the consumed segments went, though young');
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(
      warnings[0]!,
      /over its retention cap of 2048.*not consumed yet \(lowest committed offset 2220\)/,
    );
    assert.ok(!warnings[0]!.includes('\n'));
    await log.close();
  } finally {
    remove();
  }
});

void test('a failing pass is a warning and the next pass tries again', async () => {
  const { dir, remove } = makeTempDir('log-ret-fail');
  try {
    const log = await filledLog(dir);
    await log.close(); // every pass now rejects
    const warnings: string[] = [];
    let consumedCalls = 0;
    const stop = startLogRetention(log, {
      retentionMs: 0,
      retentionBytes: undefined,
      consumedBelow: () => ++consumedCalls,
      intervalMs: 5,
      warn: (line) => warnings.push(line),
      warnEveryMs: 60_000,
    });
    await until('several passes were tried', () => consumedCalls >= 5);
    await stop();
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /retention pass failed: LogClosedError/);
  } finally {
    remove();
  }
});

void test('the default interval is a quarter of the retention, from 100 ms to a minute', () => {
  assert.equal(defaultRetentionIntervalMs(7 * 86_400_000), 60_000);
  assert.equal(defaultRetentionIntervalMs(1_000), 250);
  assert.equal(defaultRetentionIntervalMs(0), 100);
});
