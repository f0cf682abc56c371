/**
 * Child process of the crash test: opens the file log in `dir` and appends
 * from many concurrent loops until it is killed, printing one line per
 * acknowledged append, `<offset> <id>`, only after the append resolved.
 *
 * Usage: node crash-appender.js <dir> <round> <workers> <segmentBytes>
 */
import { openFileEventLog } from '../../src/log/file/file-event-log.js';
import { crashPayload } from './log-test-helpers.js';

const [dir, round, workers, segmentBytes] = process.argv.slice(2);
if (dir === undefined || round === undefined)
  throw new Error('usage: crash-appender <dir> <round> <workers>');

// A parent that dies without killing us must not leave an appender running forever.
setTimeout(() => process.exit(3), 60_000).unref();

const log = await openFileEventLog(dir, { segmentBytes: Number(segmentBytes ?? 256 * 1024) });

async function appendForever(worker: number): Promise<void> {
  for (let seq = 0; ; seq++) {
    const id = `r${round}-w${worker}-${seq}`;
    const offset = await log.append(crashPayload(id));
    process.stdout.write(`${offset} ${id}\n`);
  }
}

await Promise.all(Array.from({ length: Number(workers ?? 50) }, (_, w) => appendForever(w)));
