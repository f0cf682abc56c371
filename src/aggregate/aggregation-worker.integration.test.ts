import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { syntheticRecords } from '../bench/synthetic-events.js';
import { EmbeddedDedup } from '../dedup/embedded-dedup.js';
import { decodeEvent } from '../domain/event.js';
import { openFileEventLog } from '../log/file/file-event-log.js';
import { AggregationMetrics } from '../metrics/aggregation-metrics.js';
import type { AggregateStore } from '../store/aggregate-store.js';
import { DuckDbAggregateStore } from '../store/duckdb/duckdb-aggregate-store.js';
import { DuckDbDatabase } from '../store/duckdb/duckdb-database.js';
import { AggregationWorker } from './aggregation-worker.js';
import { COUNT_FIELDS, COUNT_COLUMNS } from './counts.js';
import { MinuteAggregator } from './minute-aggregator.js';

const OPTIONS = { allowedLatenessMs: 5_000, clickTtlMs: 86_400_000 };

void test('a commit that fails mid-stream is retried from the last commit: every event counted once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'adtally-worker-'));
  try {
    const log = await openFileEventLog(join(dir, 'log'));
    const traffic = {
      ads: 20,
      startMs: Date.now() - 600_000,
      eventsPerSecond: 200,
      duplicateRate: 0.3,
      invalidRate: 0.1,
      seed: 7,
    };
    const records = [...syntheticRecords(traffic, 20_000)];
    const offsets = await Promise.all(records.map((r) => log.append(r)));
    // The oracle: one clean pass over the same events.
    const clean = new MinuteAggregator(OPTIONS);
    records.forEach((r, i) => clean.apply(offsets[i]!, decodeEvent(r)));
    const expected = Object.fromEntries(COUNT_FIELDS.map((f) => [f, 0]));
    const drained = clean.drain();
    for (const delta of [...drained.deltas.values(), ...drained.lateDeltas.values()]) {
      for (const f of COUNT_FIELDS) expected[f]! += delta.counts[f];
    }

    const db = await DuckDbDatabase.open(join(dir, 'store.duckdb'));
    const store = await DuckDbAggregateStore.create(db);
    let commits = 0;
    let failed = 0;
    // Fault injection: the first two commits fail (the store stays real).
    const flaky: AggregateStore = {
      loadCheckpoint: (c) => store.loadCheckpoint(c),
      loadDedup: (h, read) => store.loadDedup(h, read),
      claimOwnership: (c) => store.claimOwnership(c),
      listCheckpoints: (p) => store.listCheckpoints(p),
      setSpillHold: (c, s) => store.setSpillHold(c, s),
      spillHold: () => store.spillHold(),
      series: (...a) => store.series(...a),
      top: (...a) => store.top(...a),
      minuteRows: (...a) => store.minuteRows(...a),
      replaceCounts: (rows) => store.replaceCounts(rows),
      lateTotals: (...a) => store.lateTotals(...a),
      reconcileSnapshot: (...a) => store.reconcileSnapshot(...a),
      repair: (r) => store.repair(r),
      exclusiveReconcile: (work) => store.exclusiveReconcile(work),
      deleteMinutesBefore: (m) => store.deleteMinutesBefore(m),
      lateHours: (m) => store.lateHours(m),
      commit: (consumer, commit) => {
        commits++;
        if (commits <= 2) {
          failed++;
          return Promise.reject(new Error('injected commit failure'));
        }
        return store.commit(consumer, commit);
      },
    };
    const worker = await AggregationWorker.start({
      ...OPTIONS,
      log,
      store: flaky,
      dedup: new EmbeddedDedup(store),
      metrics: new AggregationMetrics(),
      consumer: 'test',
      flushIntervalMs: 1,
      retryDelayMs: 20,
    });
    const end = log.durableEnd();
    const deadline = Date.now() + 30_000;
    while (worker.committedOffset() < end && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(worker.committedOffset(), end, 'the worker caught up after the failures');
    assert.equal(failed, 2);
    await worker.check();
    await worker.stop();

    const sums = COUNT_FIELDS.map((f) => `sum(${COUNT_COLUMNS[f]})::DOUBLE AS ${f}`).join(', ');
    const [serving] = await db.all<Record<string, number>>(`SELECT ${sums} FROM agg_minute`);
    const [late] = await db.all<Record<string, number | null>>(`SELECT ${sums} FROM agg_late`);
    const actual = Object.fromEntries(COUNT_FIELDS.map((f) => [f, (serving![f] ?? 0) + (late![f] ?? 0)]));
    assert.deepEqual(actual, expected);
    assert.ok(
      expected.clicks! > 0 && expected.clickDuplicate! > 0 && expected.clickBot! + expected.clickExpired! > 0,
    );
    await log.close();
    await db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
