import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { crashPayload, crashPayloadId, makeTempDir, readAll } from '../../../test/log/log-test-helpers.js';
import { FRAME_HEADER_BYTES } from '../record-framing.js';
import { openFileEventLog } from './file-event-log.js';
import { parseSegmentFileName } from './segment-files.js';

const APPENDER = fileURLToPath(new URL('../../../test/log/crash-appender.js', import.meta.url));
const ROUNDS = 4;

/** Runs the appender until the first ack, then SIGKILLs it after `delayMs`; returns its complete stdout lines. */
async function runAndKill(dir: string, round: number, delayMs: number): Promise<string[]> {
  const child = spawn(process.execPath, [APPENDER, dir, String(round), '50', String(256 * 1024)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  let output = '';
  let killTimer: NodeJS.Timeout | undefined;
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    output += chunk;
    killTimer ??= setTimeout(() => child.kill('SIGKILL'), delayMs);
  });
  const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
  clearTimeout(killTimer);
  assert.equal(signal, 'SIGKILL', `appender exited on its own (code ${code})`);
  // The kill can land mid-line: only newline-terminated lines are acks.
  return output.split('\n').slice(0, -1);
}

/**
 * Simulates what a power loss may do on top of the kill: lose any suffix of
 * the bytes nobody was told are durable, cutting at a random byte, usually
 * mid-record. Returns how many bytes it cut.
 */
function tearUnacknowledgedTail(dir: string, acknowledgedEnd: number): number {
  const last = readdirSync(dir)
    .filter((name) => parseSegmentFileName(name) !== undefined)
    .sort()
    .at(-1)!;
  const base = parseSegmentFileName(last)!;
  const path = join(dir, last);
  const end = base + statSync(path).size;
  const keep = Math.max(acknowledgedEnd, base);
  if (end <= keep) return 0;
  const cut = keep + Math.floor(Math.random() * (end - keep + 1));
  truncateSync(path, cut - base);
  return end - cut;
}

void test('every acknowledged append survives SIGKILL, across repeated crash and recovery', async (t) => {
  const { dir, remove } = makeTempDir('log-crash');
  try {
    const acked = new Map<number, string>(); // offset -> id, over all rounds
    for (let round = 0; round < ROUNDS; round++) {
      const delayMs = 300 + Math.floor(Math.random() * 900);
      const lines = await runAndKill(dir, round, delayMs);
      let acknowledgedEnd = 0;
      for (const line of lines) {
        const [offset, id] = line.split(' ');
        assert.ok(offset !== undefined && id !== undefined, `bad ack line "${line}"`);
        assert.equal(acked.get(Number(offset)), undefined, `offset ${offset} acknowledged twice`);
        acked.set(Number(offset), id);
        const end = Number(offset) + FRAME_HEADER_BYTES + crashPayload(id).length;
        acknowledgedEnd = Math.max(acknowledgedEnd, end);
      }
      const torn = tearUnacknowledgedTail(dir, acknowledgedEnd);

      const log = await openFileEventLog(dir);
      const records = await readAll(log);
      await log.close();
      // The invariant over the whole log, not a sample: every record is whole
      // and unique, and every acknowledged one is there at its offset.
      const found = new Map<number, string>();
      const ids = new Set<string>();
      for (const record of records) {
        const id = crashPayloadId(record.payload);
        assert.deepEqual(record.payload, crashPayload(id), `record at ${record.offset} is damaged`);
        assert.ok(!ids.has(id), `${id} is in the log twice`);
        ids.add(id);
        found.set(record.offset, id);
      }
      for (const [offset, id] of acked) {
        assert.equal(
          found.get(offset),
          id,
          `acknowledged ${id} at ${offset} is missing after round ${round}`,
        );
      }
      t.diagnostic(
        `round ${round}: killed after ${delayMs} ms, ${lines.length} acks, ${records.length} records in log, ` +
          `tail torn by ${torn} bytes, recovery cut ${log.recovery.truncatedBytes} bytes`,
      );
    }
    assert.ok(acked.size > ROUNDS, 'the appender acknowledged records before each kill');
  } finally {
    remove();
  }
});
