import { open, type FileHandle } from 'node:fs/promises';
import type { LogBatch, LogRecord } from '../event-log.js';
import { LogCorruptError } from '../log-errors.js';
import { readFrames } from './frame-reader.js';
import type { Segment } from './segment.js';

/** Read descriptors kept open at most (see handle()). */
const MAX_OPEN_SEGMENTS = 4;

/**
 * The read side of the file log: reads durable records across segments with
 * one cached read-only handle per segment, and CRC-checks every record it
 * returns. Shares the log's segment list, which grows at the end (rolls) and
 * shrinks at the front (retention) while reads are in flight: so a read
 * finds the segment of each position anew rather than keeping an index, and
 * a read that reaches below the first kept segment rejects with a
 * RangeError. A read that already holds a deleted segment's descriptor
 * finishes on it (an unlinked file stays readable while it is open).
 */

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

  /**
   * Drops the cached descriptors of segments retention removed from the
   * list, closing them once the reads in flight now are done (one of them
   * may be reading such a file).
   */
  forget(removed: readonly Segment[]): void {
    const closing: Promise<FileHandle>[] = [];
    for (const segment of removed) {
      const handle = this.handles.get(segment.base);
      if (handle === undefined) continue;
      this.handles.delete(segment.base);
      closing.push(handle);
    }
    if (closing.length === 0) return;
    void Promise.allSettled([...this.inFlight]).then(() => {
      for (const h of closing) h.then((fh) => fh.close()).catch(() => undefined);
    });
  }

  private async readDurable(from: number, maxBytes: number, end: number): Promise<LogBatch> {
    if (!Number.isSafeInteger(from) || from > end) {
      throw new RangeError(`cannot read from offset ${from}: the log holds [${this.start()}, ${end})`);
    }
    this.checkKept(from);
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
      throw new RangeError(`maxBytes must be a positive integer, got ${maxBytes}`);
    }
    const records: LogRecord[] = [];
    let pos = from;
    while (pos < end && pos - from < maxBytes) {
      this.checkKept(pos); // retention may have run while the last segment was read
      const segment = this.segments[this.segmentIndexOf(pos)]!;
      const limit = Math.min(segment.base + segment.size, end) - segment.base;
      if (pos - segment.base >= limit) break; // cannot happen below the durable end: segments are contiguous
      const handle = await this.handle(segment).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') this.checkKept(pos); // unlinked meanwhile
        throw error;
      });
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

  private start(): number {
    return this.segments[0]!.base;
  }

  /** Rejects an offset below the first kept segment, naming where the log now starts. */
  private checkKept(offset: number): void {
    const start = this.start();
    if (offset < start) {
      const why = start > 0 ? ' (older segments were deleted by retention)' : '';
      throw new RangeError(`cannot read from offset ${offset}: the log starts at offset ${start}${why}`);
    }
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
