import { crc32 } from 'node:zlib';

/**
 * How one record sits in a segment file:
 *
 *   u32 LE payload length | u32 LE CRC-32 of the payload | payload
 *
 * The CRC lets recovery tell a complete record from a torn or garbage tail,
 * and lets readers refuse bit rot instead of returning it. The length is not
 * covered by its own checksum: a flipped length bit either points past the
 * data (read as a torn tail) or makes the CRC span the wrong bytes (corrupt).
 */
export const FRAME_HEADER_BYTES = 8;

/** Largest payload a frame may carry; a larger length field means corruption. */
export const MAX_RECORD_BYTES = 1024 * 1024;

/** One decoded frame. `payload` is a view into the source buffer, not a copy. */
export interface FrameRecord {
  readonly kind: 'record';
  readonly payload: Buffer;
  /** Header plus payload: where the next frame starts, relative to this one. */
  readonly frameBytes: number;
}

/** The buffer ends inside this frame; `frameBytes` is known once the header is complete. */
export interface FrameIncomplete {
  readonly kind: 'incomplete';
  readonly frameBytes: number | undefined;
}

export interface FrameCorrupt {
  readonly kind: 'corrupt';
  readonly reason: string;
}

export type FrameDecode = FrameRecord | FrameIncomplete | FrameCorrupt;

/** Bytes a payload takes once framed. */
export function frameSize(payloadBytes: number): number {
  return FRAME_HEADER_BYTES + payloadBytes;
}

/**
 * Checks that a payload can be framed: not empty (length 0 marks corruption,
 * which keeps zero-filled garbage from reading as records) and at most
 * MAX_RECORD_BYTES. Returns why not, or undefined.
 */
export function payloadProblem(payloadBytes: number): string | undefined {
  if (payloadBytes === 0) return 'empty payload';
  if (payloadBytes > MAX_RECORD_BYTES) return `payload of ${payloadBytes} bytes exceeds ${MAX_RECORD_BYTES}`;
  return undefined;
}

/**
 * Writes the frame for `payload` into `target` at `position`, so a batch can
 * be built in one reusable buffer without a copy per record. The caller makes
 * sure it fits and that the payload is valid (see payloadProblem). Returns the
 * number of bytes written.
 */
export function writeFrame(target: Buffer, position: number, payload: Buffer): number {
  target.writeUInt32LE(payload.length, position);
  target.writeUInt32LE(crc32(payload), position + 4);
  payload.copy(target, position + FRAME_HEADER_BYTES);
  return FRAME_HEADER_BYTES + payload.length;
}

/** Frames one payload into a new buffer. */
export function encodeFrame(payload: Buffer): Buffer {
  const problem = payloadProblem(payload.length);
  if (problem !== undefined) throw new RangeError(`cannot frame record: ${problem}`);
  const frame = Buffer.allocUnsafe(frameSize(payload.length));
  writeFrame(frame, 0, payload);
  return frame;
}

/** Decodes the frame starting at `position` in `source`. */
export function decodeFrame(source: Buffer, position: number): FrameDecode {
  const available = source.length - position;
  if (available < FRAME_HEADER_BYTES) return { kind: 'incomplete', frameBytes: undefined };
  const length = source.readUInt32LE(position);
  if (length === 0) return { kind: 'corrupt', reason: 'length 0' };
  if (length > MAX_RECORD_BYTES) return { kind: 'corrupt', reason: `length ${length} > ${MAX_RECORD_BYTES}` };
  const frameBytes = FRAME_HEADER_BYTES + length;
  if (available < frameBytes) return { kind: 'incomplete', frameBytes };
  const start = position + FRAME_HEADER_BYTES;
  const payload = source.subarray(start, start + length);
  const stored = source.readUInt32LE(position + 4);
  if (crc32(payload) !== stored) return { kind: 'corrupt', reason: 'CRC mismatch' };
  return { kind: 'record', payload, frameBytes };
}
