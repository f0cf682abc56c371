import type { FileHandle } from 'node:fs/promises';
import type { LogRecord } from '../event-log.js';
import { decodeFrame, FRAME_HEADER_BYTES, type FrameDecode } from '../record-framing.js';
import { readAt } from './segment-files.js';

/** Read size when the budget is smaller: one syscall of 64 KiB costs about what a tiny one does. */
const MIN_READ_BYTES = 64 * 1024;

export interface SegmentFrames {
  /** Position (relative to the start of the segment file) just past the last record taken. */
  readonly end: number;
  /** Set when a frame at `position` is cut short by `limit` or fails its checks. */
  readonly stop:
    | { readonly kind: 'incomplete' | 'corrupt'; readonly position: number; readonly reason: string }
    | undefined;
}

/**
 * Reads whole frames of one segment from `from` up to `limit`, taking frames
 * while they end within `budget` bytes of `from`; with `atLeastOne`, the
 * first frame is taken even if it alone is larger. Each record taken is
 * pushed onto `into` (when given) with its log offset, `base` + position;
 * payloads are views into the read buffers, not copies. One object per
 * record and no intermediate lists: the replay allocates per event, and
 * garbage collection was its largest single cost.
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
  base: number,
  into?: LogRecord[],
): Promise<SegmentFrames> {
  let taken = 0;
  const fits = (end: number): boolean => end - from <= budget || (atLeastOne && taken === 0);
  let pos = from;
  while (pos < limit) {
    const want = Math.min(limit - pos, Math.max(budget - (pos - from), MIN_READ_BYTES));
    const chunk = await readAt(handle, pos, want);
    if (chunk.length === 0) return stopped(pos, 'incomplete', 'file ends before the expected size');
    let at = 0;
    let frame = decodeFrame(chunk, at);
    while (frame.kind === 'record') {
      if (!fits(pos + at + frame.frameBytes)) return { end: pos + at, stop: undefined };
      into?.push({ offset: base + pos + at, payload: frame.payload });
      taken++;
      at += frame.frameBytes;
      frame = at < chunk.length ? decodeFrame(chunk, at) : INCOMPLETE;
    }
    pos += at;
    if (frame.kind === 'corrupt') return stopped(pos, 'corrupt', frame.reason);
    if (at > 0 || pos >= limit) continue; // the next read starts at the frame that did not fit
    // The first frame is larger than the chunk we read: read it on its own.
    const big = await readOneFrame(handle, pos, limit);
    if (big.kind === 'incomplete') return stopped(pos, 'incomplete', 'frame cut short');
    if (big.kind === 'corrupt') return stopped(pos, 'corrupt', big.reason);
    if (!fits(pos + big.frameBytes)) break;
    into?.push({ offset: base + pos, payload: big.payload });
    taken++;
    pos += big.frameBytes;
  }
  return { end: pos, stop: undefined };
}

const INCOMPLETE: FrameDecode = { kind: 'incomplete', frameBytes: undefined };

function stopped(position: number, kind: 'incomplete' | 'corrupt', reason: string): SegmentFrames {
  return { end: position, stop: { kind, position, reason } };
}

async function readOneFrame(handle: FileHandle, pos: number, limit: number): Promise<FrameDecode> {
  if (limit - pos < FRAME_HEADER_BYTES) return { kind: 'incomplete', frameBytes: undefined };
  const header = decodeFrame(await readAt(handle, pos, FRAME_HEADER_BYTES), 0);
  if (header.kind !== 'incomplete' || header.frameBytes === undefined) return header;
  if (pos + header.frameBytes > limit) return header;
  return decodeFrame(await readAt(handle, pos, header.frameBytes), 0);
}
