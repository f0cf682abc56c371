import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CheckpointRow } from '../store/aggregate-store.js';
import { watermarkOverPartitions } from './partition-watermark.js';

const row = (partition: number, maxEventTime: number | undefined, committedAt: number): CheckpointRow => ({
  consumer: `events/${partition}`,
  checkpoint: { offset: 10, maxEventTime },
  committedAt,
});

test('the watermark is the lowest max event time over partitions that committed recently, minus lateness', () => {
  const now = 1_000_000;
  const rows = [row(0, 900_000, now - 100), row(1, 950_000, now - 200), row(2, 500_000, now - 60_000)];
  // Partition 2 has been idle for a minute: left out.
  assert.equal(watermarkOverPartitions(rows, now, 5_000), 895_000);
  // Within the idle limit it holds the watermark back.
  assert.equal(watermarkOverPartitions(rows, now, 5_000, 120_000), 495_000);
});

test('with every partition idle the highest of all counts, and no commit means no watermark', () => {
  const now = 1_000_000;
  assert.equal(watermarkOverPartitions([row(0, 700_000, 0), row(1, 600_000, 0)], now, 1_000), 699_000);
  assert.equal(watermarkOverPartitions([row(0, undefined, now)], now, 1_000), undefined);
  assert.equal(watermarkOverPartitions([], now, 1_000), undefined);
});
