import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LogCorruptError } from '../log-errors.js';
import { readFrames } from './frame-reader.js';
import {
  createSegment,
  fsyncDirectory,
  listSegments,
  segmentFileName,
  type SegmentFile,
} from './segment-files.js';

/** What recovery found and did when the log was opened. */
export interface RecoveryReport {
  /** Segment files found (or created, for a new log). */
  readonly segments: number;
  /** Bytes of whole, valid records kept in the last segment. */
  readonly keptBytes: number;
  /** Bytes cut from the end of the last segment: a torn write or garbage. 0 if it was clean. */
  readonly truncatedBytes: number;
  /** Where and why the tail was cut (log offset); undefined if nothing was cut. */
  readonly truncation: { readonly offset: number; readonly reason: string } | undefined;
}

export interface RecoveredSegments {
  /** Sorted by base; the last one is the active segment, its size after any cut. */
  readonly segments: SegmentFile[];
  /** The last segment, open for reading and writing. */
  readonly active: FileHandle;
  readonly report: RecoveryReport;
}

/** Chunk size for the recovery scan: bounded memory however large the segment. */
const SCAN_BYTES = 8 * 1024 * 1024;

/**
 * Brings the directory to a state where every byte is a whole, valid record:
 *
 * - Sealed segments (all but the last) are only checked for size: a segment
 *   is sealed only after a flush into it was fdatasync'ed, and nothing is
 *   ever written to it again, so it cannot have a torn tail. If its size does
 *   not meet the next segment's base, data is missing or extra, and that is
 *   corruption to report, not a tail to cut. Their CRCs are checked on read.
 * - The last segment is scanned frame by frame and cut (ftruncate + fsync) at
 *   the first incomplete or corrupt frame. Bytes there were never
 *   acknowledged: an append resolves only after the fdatasync covering it,
 *   and a torn write can only hit the last, unacknowledged flush.
 * - The first segment need not start at 0: retention deletes segments oldest
 *   first, so a log whose first segments are gone (a crash between unlinks
 *   included) opens at its first remaining one. Only a gap between segments
 *   is corruption.
 */
export async function recoverSegments(directory: string): Promise<RecoveredSegments> {
  const dir = resolve(directory);
  await makeDirectoryDurably(dir);
  let segments = await listSegments(dir);
  if (segments.length === 0) {
    const active = await createSegment(dir, 0);
    segments = [{ base: 0, path: resolve(dir, segmentFileName(0)), size: 0 }];
    const report = { segments: 1, keptBytes: 0, truncatedBytes: 0, truncation: undefined };
    return { segments, active, report };
  }
  checkSealedSegments(segments);
  const last = segments[segments.length - 1]!;
  const active = await open(last.path, 'r+');
  try {
    const kept = await scanValidPrefix(active, last.size);
    const truncatedBytes = last.size - kept.end;
    if (truncatedBytes > 0) {
      await active.truncate(kept.end);
      await active.sync();
    }
    segments[segments.length - 1] = { ...last, size: kept.end };
    const truncation =
      kept.reason === undefined ? undefined : { offset: last.base + kept.end, reason: kept.reason };
    const report = { segments: segments.length, keptBytes: kept.end, truncatedBytes, truncation };
    return { segments, active, report };
  } catch (error) {
    await active.close();
    throw error;
  }
}

function checkSealedSegments(segments: readonly SegmentFile[]): void {
  for (let i = 0; i + 1 < segments.length; i++) {
    const sealed = segments[i]!;
    const next = segments[i + 1]!;
    const end = sealed.base + sealed.size;
    if (end !== next.base) {
      const problem = end < next.base ? 'is shorter than' : 'overlaps';
      throw new LogCorruptError(
        `sealed segment ${problem} the next one: it ends at offset ${end}, ${segmentFileName(next.base)} starts at ${next.base}`,
        sealed.path,
        sealed.size,
      );
    }
  }
}

async function scanValidPrefix(
  handle: FileHandle,
  size: number,
): Promise<{ end: number; reason: string | undefined }> {
  let end = 0;
  while (end < size) {
    const scan = await readFrames(handle, end, size, SCAN_BYTES, true, 0);
    end = scan.end;
    if (scan.stop !== undefined) return { end, reason: `${scan.stop.kind} frame: ${scan.stop.reason}` };
  }
  return { end, reason: undefined };
}

/** mkdir -p, then fsync the parent of each directory created so the new names survive a power loss. */
export async function makeDirectoryDurably(dir: string): Promise<void> {
  const firstCreated = await mkdir(dir, { recursive: true });
  if (firstCreated === undefined) return;
  for (let created = dir; ; created = dirname(created)) {
    await fsyncDirectory(dirname(created));
    if (created === resolve(firstCreated)) return;
  }
}
