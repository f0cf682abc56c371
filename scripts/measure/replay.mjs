#!/usr/bin/env node
// Aggregation throughput alone (the `aggregate` scenario of `adtally bench`):
// writes N synthetic events to a file log, then times a fresh aggregation
// worker consuming them into a fresh DuckDB store.
// usage: npm run build && node scripts/measure/replay.mjs [events=5000000]
import { replayAggregate, writeSyntheticLog } from '../../dist/src/bench/replay-aggregate.js';

const stored = await writeSyntheticLog(Number(process.argv[2] ?? 5_000_000));
const r = await replayAggregate(stored);
await stored.dispose();
console.log(
  `replayed ${r.events} events in ${r.wallSeconds.toFixed(1)} s: ${Math.round(r.eventsPerSecond)} events/s ` +
    `(process CPU ${r.cpuSeconds.toFixed(1)} s, ${Math.round(r.eventsPerCpuSecond)} events per CPU-second)`,
);
