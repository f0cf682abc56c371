#!/usr/bin/env node
// Splits a .cpuprofile (node --cpu-prof) into where the time went: every
// sample is charged to the innermost frame that is adtally code (dist/src/...)
// or a dependency (node_modules/<pkg>), so the node internals a function calls
// (crypto bindings, socket writes) count for the function that called them.
// Samples with no such frame are charged by what they are: GC, idle, node's
// own http/net/stream internals.
// With PIECES=1 it also sums the owners into the pieces of a click's path.
// usage: [PIECES=1] [DETAIL=owner] node scripts/measure/cpuprofile-split.mjs <file.cpuprofile> [top=40]
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

function ownerOf(frame) {
  const { url, functionName } = frame.callFrame;
  const src = /\/dist\/(src\/.*)\.js$/.exec(url);
  if (src) return `${src[1]}:${functionName || '(anonymous)'}`;
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (dep) return `[${dep[1]}]`;
  return undefined;
}
const ownerCache = new Map();
function owner(id) {
  if (ownerCache.has(id)) return ownerCache.get(id);
  let cur = id;
  let found;
  while (cur !== undefined) {
    found = ownerOf(byId.get(cur));
    if (found !== undefined) break;
    cur = parent.get(cur);
  }
  if (found === undefined) {
    const { url, functionName } = byId.get(id).callFrame;
    if (functionName.startsWith('(')) found = functionName;
    else found = `node:${url.replace(/^node:internal\//, '').replace(/^node:/, '') || functionName}`;
  }
  ownerCache.set(id, found);
  return found;
}

const micros = new Map();
// DETAIL=<owner substring>: also split that owner's time by the frame that was running.
const detail = process.env.DETAIL;
const detailMicros = new Map();
const deltas = profile.timeDeltas;
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const dt = deltas[i + 1] ?? 0;
  const key = owner(profile.samples[i]);
  micros.set(key, (micros.get(key) ?? 0) + dt);
  if (detail !== undefined && key.includes(detail)) {
    const { functionName, url } = byId.get(profile.samples[i]).callFrame;
    const self = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(dist|node_modules)\//, '')}`;
    detailMicros.set(self, (detailMicros.get(self) ?? 0) + dt);
  }
  total += dt;
}
const idle = micros.get('(idle)') ?? 0;
const busy = total - idle;
console.log(`total ${(total / 1e6).toFixed(2)} s, busy ${(busy / 1e6).toFixed(2)} s (${((100 * busy) / total).toFixed(1)} %)`);
const rows = [...micros].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]);
for (const [key, us] of rows.slice(0, Number(topArg ?? 40)))
  console.log(`${((100 * us) / busy).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`);
if (detail !== undefined) {
  console.log(`-- ${detail}, by running frame`);
  for (const [key, us] of [...detailMicros].sort((a, b) => b[1] - a[1]).slice(0, 25))
    console.log(`${((100 * us) / busy).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`);
}

/** The pieces of a click's path, first match wins; owners are `src/<file>:<function>`, `[pkg]` or node's. */
const GROUPS = [
  ['answer write (res.writeHead/end: socket write, the bare server pays it too)', /^src\/web\/tracking-routes:click$/],
  ['HMAC verify', /^src\/domain\/(hmac-sha256|token):(mac|macInto|hasValidSignature|verifyToken|digestInto|compress|keyOf)$/],
  ['query parse + token fields', /^src\/web\/(server:handle|tracking-routes:incomingFromQuery|tracking-routes:header|query-params:)|^src\/domain\/token:parse/],
  ['classify (user agent, prefetch, outcome)', /^src\/domain\/(user-agent|outcome):|^\[isbot\]/],
  ['collector record + encode', /^src\/ingest\/collector:|^src\/domain\/event:encodeEvent|^src\/cli\/serve:now/],
  ['metrics', /^\[prom-client\]|^src\/metrics\/|^src\/web\/server:record/],
  ['routing + promise glue (server.ts run)', /^src\/web\/server:/],
  ['log append, write, fdatasync (src/log)', /^src\/log\//],
  ['node http/net/streams/microtasks', /^node:(_http|events|streams|net|process\/task_queues|async_hooks|internal\/?stream|stream_base)|^\(?runMicrotasks|^node:runMicrotasks/],
  ['garbage collector', /^\(garbage collector\)$/],
  ['(program): native code outside JS', /^\(program\)$/],
  ['aggregation + DuckDB', /^src\/(aggregate|store)\/|^\[@duckdb\/|^src\/domain\/event:decodeEvent/],
];
if (process.env.PIECES) {
  const sums = new Map(GROUPS.map(([name]) => [name, 0]));
  let other = 0;
  for (const [key, us] of rows) {
    const group = GROUPS.find(([, re]) => re.test(key));
    if (group) sums.set(group[0], sums.get(group[0]) + us);
    else other += us;
  }
  console.log('-- pieces (share of busy time)');
  for (const [name, us] of [...sums, ['other (startup, timers, fs, ...)', other]])
    console.log(`${((100 * us) / busy).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}`);
}
