import { decodeEvent, EventDecodeError } from '../domain/event.js';
import type { LogReader } from '../log/event-log.js';
import { LogCorruptError } from '../log/log-errors.js';
import type { ReadEventAt } from '../store/aggregate-store.js';

const CHUNK_BYTES = 256 * 1024;

/**
 * Single events by offset, for the dedup migration (which asks in ascending
 * offset order): a miss reads CHUNK_BYTES from the asked offset and later
 * offsets inside that span are served from it, so dense offsets cost one log
 * read per chunk and sparse ones one read each.
 *
 * No event (undefined) for an offset the log no longer holds, a record that
 * fails its checks or does not decode; other faults (I/O) reject, and the
 * migration is retried at the next start.
 */
export function logEventReader(log: LogReader): ReadEventAt {
  let records = new Map<number, Buffer>();
  let spanStart = 0;
  let spanEnd = 0;
  return async (offset) => {
    if (offset < spanStart || offset >= spanEnd) {
      if (offset < log.startOffset() || offset >= log.durableEnd()) return undefined;
      try {
        const batch = await log.read(offset, CHUNK_BYTES);
        records = new Map(batch.records.map((r) => [r.offset, r.payload]));
        spanStart = offset;
        spanEnd = batch.next;
      } catch (err) {
        if (err instanceof LogCorruptError || err instanceof RangeError) return undefined;
        throw err;
      }
    }
    const payload = records.get(offset);
    if (payload === undefined) return undefined;
    try {
      return decodeEvent(payload);
    } catch (err) {
      if (err instanceof EventDecodeError) return undefined;
      throw err;
    }
  };
}
