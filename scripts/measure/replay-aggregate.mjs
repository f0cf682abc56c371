#!/usr/bin/env node
// The `aggregate` bench scenario on its own: a fresh aggregation worker
// replays a stored log of synthetic events into a fresh DuckDB store. Write
// the log once, then replay it with one or more builds (each in its own
// process, for before/after figures on the same log):
//   node scripts/measure/replay-aggregate.mjs write 2000000        -> prints the log's directory
//   node scripts/measure/replay-aggregate.mjs replay <dir> [dist]  -> one JSON line
// The directory is left for further runs; remove it when done.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [mode, arg, distArg] = process.argv.slice(2);
const dist = resolve(distArg ?? 'dist');
const { replayAggregate, writeSyntheticLog } = await import(
  pathToFileURL(join(dist, 'src/bench/replay-aggregate.js')).href
);
if (mode === 'write') {
  const stored = await writeSyntheticLog(Number(arg ?? 2_000_000));
  writeFileSync(join(stored.dir, 'events'), String(stored.events));
  console.log(stored.dir);
} else if (mode === 'replay') {
  const events = Number(readFileSync(join(arg, 'events'), 'utf8'));
  const result = await replayAggregate({ dir: arg, events, dispose: async () => {} });
  console.log(
    JSON.stringify({
      events,
      eventsPerSecond: Math.round(result.eventsPerSecond),
      eventsPerCpuSecond: Math.round(result.eventsPerCpuSecond),
    }),
  );
} else {
  console.error('usage: replay-aggregate.mjs write <events> | replay <dir> [dist]');
  process.exit(2);
}
