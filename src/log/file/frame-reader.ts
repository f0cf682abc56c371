import type { FileHandle } from 'node:fs/promises';
import { decodeFrame, FRAME_HEADER_BYTES, scanFrames, type FrameDecode } from '../record-framing.js';
import { readAt } from './segment-files.js';

/** Read size when the budget is smaller: one syscall of 64 KiB costs about what a tiny one does. */
const MIN_READ_BYTES = 64 * 1024;

export interface SegmentFrames {
  /** Positions are relative to the start of the segment file. */
  readonly records: { readonly position: number; readonly payload: Buffer }[];
  /** Position just past the last record returned. */
  readonly end: number;
  /** Set when a frame at `position` is cut short by `limit` or fails its checks. */
  readonly stop:
    | { readonly kind: 'incomplete' | 'corrupt'; readonly position: number; readonly reason: string }
    | undefined;
}

/**
 * Reads whole frames of one segment from `from` up to `limit`, taking frames
 * while they end within `budget` bytes of `from`; with `atLeastOne`, the
 * first frame is taken even if it alone is larger. Payloads are views into
 * the read buffers, not copies.
 *
 * Used both by reads (where `limit` is the durable end, so a stop means
 * corruption) and by recovery (where `limit` is the file size, so a stop is
 * the torn tail to cut).
 */
export async function readFrames(
  handle: FileHandle,
  from: number,
  limit: number,
  budget: number,
  atLeastOne: boolean,
): Promise<SegmentFrames> {
  const records: { position: number; payload: Buffer }[] = [];
  const fits = (end: number): boolean => end - from <= budget || (atLeastOne && records.length === 0);
  let pos = from;
  while (pos < limit) {
    const want = Math.min(limit - pos, Math.max(budget - (pos - from), MIN_READ_BYTES));
    const chunk = await readAt(handle, pos, want);
    if (chunk.length === 0) return stopped(records, pos, 'incomplete', 'file ends before the expected size');
    const scan = scanFrames(chunk);
    let taken = 0;
    for (const record of scan.records) {
      const end = record.position + FRAME_HEADER_BYTES + record.payload.length;
      if (!fits(pos + end)) return { records, end: pos + taken, stop: undefined };
      records.push({ position: pos + record.position, payload: record.payload });
      taken = end;
    }
    pos += scan.end;
    if (scan.stop === undefined) continue;
    if (scan.stop.kind === 'corrupt') return stopped(records, pos, 'corrupt', scan.stop.reason);
    if (scan.end > 0) continue; // the next read starts at the frame that did not fit
    // The first frame is larger than the chunk we read: read it on its own.
    const frame = await readOneFrame(handle, pos, limit);
    if (frame.kind === 'incomplete') return stopped(records, pos, 'incomplete', 'frame cut short');
    if (frame.kind === 'corrupt') return stopped(records, pos, 'corrupt', frame.reason);
    if (!fits(pos + frame.frameBytes)) break;
    records.push({ position: pos, payload: frame.payload });
    pos += frame.frameBytes;
  }
  return { records, end: pos, stop: undefined };
}

function stopped(
  records: { position: number; payload: Buffer }[],
  position: number,
  kind: 'incomplete' | 'corrupt',
  reason: string,
): SegmentFrames {
  return { records, end: position, stop: { kind, position, reason } };
}

async function readOneFrame(handle: FileHandle, pos: number, limit: number): Promise<FrameDecode> {
  if (limit - pos < FRAME_HEADER_BYTES) return { kind: 'incomplete', frameBytes: undefined };
  const header = decodeFrame(await readAt(handle, pos, FRAME_HEADER_BYTES), 0);
  if (header.kind !== 'incomplete' || header.frameBytes === undefined) return header;
  if (pos + header.frameBytes > limit) return header;
  return decodeFrame(await readAt(handle, pos, header.frameBytes), 0);
}
