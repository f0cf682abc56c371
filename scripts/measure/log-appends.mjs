#!/usr/bin/env node
// Appends/s of the file event log alone: `appenders` concurrent loops, each
// awaiting one ~200-byte append after another (as click requests do), for
// `seconds`, into a fresh temp dir. Prints one JSON line. On a shared disk
// appends/s follows other processes' fsyncs; the process CPU time per append
// (user + system, so the main thread and libuv's) is the steadier figure.
// usage: node scripts/measure/log-appends.mjs [seconds=5] [appenders=64] [segmentBytes=67108864]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileEventLog } from '../../dist/src/log/file/file-event-log.js';

const [secondsArg, appendersArg, segmentArg] = process.argv.slice(2);
const seconds = Number(secondsArg ?? 5);
const appenders = Number(appendersArg ?? 64);
const segmentBytes = Number(segmentArg ?? 64 * 1024 * 1024);
const dir = mkdtempSync(join(tmpdir(), 'adtally-log-appends-'));
let flushes = 0;
try {
  const log = await openFileEventLog(dir, { segmentBytes, observer: { onFlush: () => flushes++ } });
  const payload = Buffer.alloc(200, 'x');
  const cpuBefore = process.cpuUsage();
  const deadline = performance.now() + seconds * 1000;
  let appends = 0;
  await Promise.all(
    Array.from({ length: appenders }, async () => {
      while (performance.now() < deadline) {
        await log.append(payload);
        appends++;
      }
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  await log.close();
  console.log(
    JSON.stringify({
      appenders,
      segmentBytes,
      seconds,
      appendsPerSecond: Math.round(appends / seconds),
      recordsPerFlush: +(appends / flushes).toFixed(1),
      cpuMicrosPerAppend: +((cpu.user + cpu.system) / appends).toFixed(2),
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
