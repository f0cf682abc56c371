#!/usr/bin/env node
// The aggregator's hot path alone, no log and no store: decodes N synthetic
// event records (the replay's traffic: 10,000 ads, Zipf skew, 20% duplicates,
// 5% invalid) and applies them to one MinuteAggregator, draining every 200,000
// events as the worker's flushes do. Prints events/s of decode + apply (wall
// and per CPU-second: the machine is shared) and the heap growth per dedup
// entry.
// usage: npm run build && node scripts/measure/aggregate-apply.mjs [events=3000000] [dist=dist]
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const events = Number(process.argv[2] ?? 3_000_000);
const dist = resolve(process.argv[3] ?? 'dist');
const load = (p) => import(pathToFileURL(resolve(dist, p)).href);
const { syntheticRecords } = await load('src/bench/synthetic-events.js');
const { decodeEvent } = await load('src/domain/event.js');
const { MinuteAggregator } = await load('src/aggregate/minute-aggregator.js');

const traffic = {
  ads: 10_000,
  startMs: Date.now() - 3_600_000,
  eventsPerSecond: 2_000,
  duplicateRate: 0.2,
  invalidRate: 0.05,
  seed: 42,
};
const records = [...syntheticRecords(traffic, events)];
const total = records.reduce((n, r) => n + r.length, 0);
const all = Buffer.alloc(total);
const starts = new Uint32Array(events + 1);
let at = 0;
records.forEach((r, i) => {
  starts[i] = at;
  r.copy(all, at);
  at += r.length;
});
starts[events] = at;
records.length = 0;

globalThis.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
const agg = new MinuteAggregator({ allowedLatenessMs: 5_000, clickTtlMs: 86_400_000 });
const cpuBefore = process.cpuUsage();
const started = performance.now();
for (let i = 0; i < events; i++) {
  agg.apply(i, decodeEvent(all.subarray(starts[i], starts[i + 1])));
  if (i % 200_000 === 199_999) agg.drain();
}
agg.drain();
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
globalThis.gc?.();
const heapAfter = process.memoryUsage().heapUsed;
console.log(
  JSON.stringify({
    events,
    eventsPerSecond: Math.round(events / seconds),
    eventsPerCpuSecond: Math.round(events / cpuSeconds),
    dedupEntries: agg.dedupSize(),
    heapBytesPerEntry: Math.round((heapAfter - heapBefore) / agg.dedupSize()),
  }),
);
