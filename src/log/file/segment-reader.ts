import { open, type FileHandle } from 'node:fs/promises';
import type { LogBatch, LogRecord } from '../event-log.js';
import { LogCorruptError } from '../log-errors.js';
import { readFrames } from './frame-reader.js';
import type { Segment } from './segment.js';

/**
 * The read side of the file log: reads durable records across segments with
 * one cached read-only handle per segment, and CRC-checks every record it
 * returns. Shares the log's segment list, which only ever grows at the end.
 */
/** Read descriptors kept open at most (see handle()). */
const MAX_OPEN_SEGMENTS = 4;

export class SegmentReader {
  private readonly handles = new Map<number, Promise<FileHandle>>();
  private readonly inFlight = new Set<Promise<LogBatch>>();

  constructor(private readonly segments: readonly Segment[]) {}

  /** Reads from `from` up to `end`, the durable end when the caller's read began. */
  async read(from: number, maxBytes: number, end: number): Promise<LogBatch> {
    const reading = this.readDurable(from, maxBytes, end);
    this.inFlight.add(reading);
    try {
      return await reading;
    } finally {
      this.inFlight.delete(reading);
    }
  }

  /** Waits for reads in flight, then closes every handle. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    const opened = await Promise.allSettled([...this.handles.values()]);
    this.handles.clear();
    const handles = opened.flatMap((h) => (h.status === 'fulfilled' ? [h.value] : []));
    await Promise.allSettled(handles.map((h) => h.close()));
  }

  private async readDurable(from: number, maxBytes: number, end: number): Promise<LogBatch> {
    const start = this.segments[0]!.base;
    if (!Number.isSafeInteger(from) || from < start || from > end) {
      throw new RangeError(`cannot read from offset ${from}: the log holds [${start}, ${end})`);
    }
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
      throw new RangeError(`maxBytes must be a positive integer, got ${maxBytes}`);
    }
    const records: LogRecord[] = [];
    let pos = from;
    for (let i = this.segmentIndexOf(from); pos < end && pos - from < maxBytes; i++) {
      const segment = this.segments[i]!;
      const limit = Math.min(segment.base + segment.size, end) - segment.base;
      if (pos - segment.base >= limit) continue;
      const handle = await this.handle(segment);
      const budget = maxBytes - (pos - from);
      const got = await readFrames(
        handle,
        pos - segment.base,
        limit,
        budget,
        records.length === 0,
        segment.base,
        records,
      );
      if (got.stop !== undefined) {
        const what = `${got.stop.kind} record in durable data (${got.stop.reason})`;
        const hint = records.length === 0 ? `, or ${from} is not a record boundary` : '';
        throw new LogCorruptError(`${what}${hint}`, segment.path, got.stop.position);
      }
      pos = segment.base + got.end;
      if (pos - segment.base < limit) break; // the budget ran out inside this segment
    }
    return { records, next: pos };
  }

  /** Index of the last segment whose base is <= offset (segments are sorted and contiguous). */
  private segmentIndexOf(offset: number): number {
    let low = 0;
    let high = this.segments.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.segments[mid]!.base <= offset) low = mid;
      else high = mid - 1;
    }
    return low;
  }

  private handle(segment: Segment): Promise<FileHandle> {
    let handle = this.handles.get(segment.base);
    if (handle === undefined) {
      handle = open(segment.path, 'r');
      this.handles.set(segment.base, handle);
      handle.catch(() => this.handles.delete(segment.base));
      // A consumer moves forward through the segments: keep the few most recently opened, so a
      // long-running log does not hold one descriptor per segment it ever read.
      if (this.handles.size > MAX_OPEN_SEGMENTS) {
        const [oldestBase, oldest] = this.handles.entries().next().value!;
        this.handles.delete(oldestBase);
        oldest.then((h) => h.close()).catch(() => undefined);
      }
    }
    return handle;
  }
}
