import type { LogBatch, LogReader } from '../event-log.js';
import type { DurableEndCell } from './durable-end-cell.js';
import { listSegments } from './segment-files.js';
import { SegmentReader } from './segment-reader.js';
import type { Segment } from './segment.js';

/**
 * Reads a file log that another thread of this process appends to: the
 * aggregation thread of `adtally serve` follows the request thread's log this
 * way, so no read, CRC check or decode of the consumer runs on the loop that
 * answers clicks.
 *
 * It takes no lock and never writes. What it may read comes from the writer's
 * DurableEndCell: never past the durable end, so nothing a crash could still
 * take away is counted. Segment files are listed again only when the writer
 * reports a new active segment. Segments the writer deletes (retention) are
 * below every consumer's committed offset, so a follower never reads them
 * again; a handle it still holds on one stays readable (Linux unlink).
 */
export class FileLogFollower implements LogReader {
  /** Shared with the SegmentReader, updated in place. */
  private readonly segments: Segment[] = [];
  private readonly reader = new SegmentReader(this.segments);
  private listedForBase = Number.NaN;

  private constructor(
    private readonly dir: string,
    private readonly cell: DurableEndCell,
  ) {}

  static async open(dir: string, cell: DurableEndCell): Promise<FileLogFollower> {
    const follower = new FileLogFollower(dir, cell);
    await follower.relist(cell.activeSegmentBase());
    return follower;
  }

  durableEnd(): number {
    return this.cell.durableEnd();
  }

  startOffset(): number {
    return this.segments[0]?.base ?? 0;
  }

  async read(from: number, maxBytes: number): Promise<LogBatch> {
    // The end first: the writer publishes a new segment's base before an end inside it.
    const end = this.cell.durableEnd();
    const activeBase = this.cell.activeSegmentBase();
    if (activeBase !== this.listedForBase) await this.relist(activeBase);
    return this.reader.read(from, maxBytes, end);
  }

  close(): Promise<void> {
    return this.reader.close();
  }

  /**
   * Lists the segment files. Each sealed segment ends where the next begins;
   * the last one is bounded by the durable end alone.
   */
  private async relist(activeBase: number): Promise<void> {
    const files = await listSegments(this.dir);
    if (files.length === 0) throw new Error(`no segment files in ${this.dir}: the log is not open`);
    const fresh: Segment[] = files.map((file, i) => {
      const next = files[i + 1];
      return next === undefined
        ? { base: file.base, path: file.path, size: Number.MAX_SAFE_INTEGER - file.base, state: 'active' }
        : { base: file.base, path: file.path, size: next.base - file.base, state: 'sealed' };
    });
    const kept = new Set(fresh.map((segment) => segment.base));
    const removed = this.segments.filter((segment) => !kept.has(segment.base));
    this.segments.splice(0, this.segments.length, ...fresh);
    this.reader.forget(removed); // deleted by retention: close their descriptors
    this.listedForBase = activeBase;
  }
}
