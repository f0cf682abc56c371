import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventLog, LogRecord } from '../../src/log/event-log.js';

/** A fresh temp dir for one test, and the function that removes it. */
export function makeTempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `adtally-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Every durable record, read in batches of about `maxBytes`, each batch resuming from the last `next`. */
export async function readAll(log: EventLog, maxBytes = 1024 * 1024): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  let from = log.startOffset();
  for (;;) {
    const batch = await log.read(from, maxBytes);
    if (batch.records.length === 0) {
      if (batch.next !== from || from !== log.durableEnd()) {
        throw new Error(`empty read at ${from} (next ${batch.next}) before durable end ${log.durableEnd()}`);
      }
      return records;
    }
    for (const record of batch.records) records.push(record);
    from = batch.next;
  }
}

/**
 * The payload the crash test writes for record `id`: the id, then filler of a
 * length derived from the id, so the checker can recompute every byte.
 */
export function crashPayload(id: string): Buffer {
  let hash = 0;
  for (let i = 0; i < id.length; i++) hash = (hash * 31 + id.charCodeAt(i)) >>> 0;
  return Buffer.from(`${id}|${'x'.repeat(hash % 300)}`);
}

/** The id a crash-test payload carries. */
export function crashPayloadId(payload: Buffer): string {
  const text = payload.toString();
  return text.slice(0, text.indexOf('|'));
}
