import { COUNTERS, type SeriesSums } from './series-sums.js';

/** Minutes in an hour block; a block's cells are indexed by minute offset 0..59. */
export const MINUTES_PER_HOUR = 60;
/** Values in a dense hour: 60 minutes x 12 counters, `[offset * COUNTERS + field]`. */
export const DENSE_HOUR_VALUES = MINUTES_PER_HOUR * COUNTERS;

/**
 * The packed form of one ad's hour, for hours that no longer change (or
 * rarely do). Most counters of a minute are zero (the invalid reasons), so a
 * minute is written as:
 *
 *   offset (1 byte, 0..59) · mask (LEB128, bit f = counter f is nonzero) · the nonzero counters (LEB128 each)
 *
 * in increasing offset order; all-zero minutes are left out. A minute with
 * billable impressions and clicks under 128 takes 5 bytes instead of the 48
 * of twelve Uint32 counters. Values are non-negative integers below 2^53
 * (LEB128 is written with arithmetic, not 32-bit shifts).
 */
export function packHour(dense: ArrayLike<number>, start = 0): Uint8Array {
  const out = new ByteWriter(64);
  packHourInto(out, dense, start);
  return out.finish();
}

/** `packHour`, appended to `out` (sealing writes every ad's block into one buffer). */
export function packHourInto(out: ByteWriter, dense: ArrayLike<number>, start = 0): void {
  for (let offset = 0; offset < MINUTES_PER_HOUR; offset++) {
    const base = start + offset * COUNTERS;
    let mask = 0;
    for (let f = 0; f < COUNTERS; f++) if (dense[base + f]! !== 0) mask |= 1 << f;
    if (mask === 0) continue;
    out.byte(offset);
    out.varint(mask);
    for (let f = 0; f < COUNTERS; f++) if ((mask & (1 << f)) !== 0) out.varint(dense[base + f]!);
  }
}

/** An append-only byte buffer that grows by doubling. */
export class ByteWriter {
  private bytes: Uint8Array;
  length = 0;

  constructor(capacity = 1024) {
    this.bytes = new Uint8Array(capacity);
  }

  byte(b: number): void {
    if (this.length === this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes[this.length++] = b;
  }

  /** LEB128 of a non-negative integer below 2^53. */
  varint(value: number): void {
    let v = value;
    while (v >= 128) {
      this.byte((v % 128) + 128);
      v = Math.floor(v / 128);
    }
    this.byte(v);
  }

  /** A copy of the bytes written, exactly as long as they are. */
  finish(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

/** Calls `visit(offset, field, value)` for every nonzero counter of the packed block `bytes[start, end)`. */
function forEachCount(
  bytes: Uint8Array,
  start: number,
  end: number,
  visit: (offset: number, field: number, value: number) => void,
): void {
  let p = start;
  const varint = (): number => {
    let b = bytes[p++]!;
    let value = b & 127;
    let scale = 128;
    while (b >= 128) {
      b = bytes[p++]!;
      value += (b & 127) * scale;
      scale *= 128;
    }
    return value;
  };
  while (p < end) {
    const offset = bytes[p++]!;
    const mask = varint();
    for (let f = 0; f < COUNTERS; f++) if ((mask & (1 << f)) !== 0) visit(offset, f, varint());
  }
}

/** Adds the packed block of the hour starting at `hourStartMinute` into `sums`. */
export function addPackedInto(
  bytes: Uint8Array,
  start: number,
  end: number,
  hourStartMinute: number,
  sums: SeriesSums,
): void {
  forEachCount(bytes, start, end, (offset, field, value) => sums.add(hourStartMinute + offset, field, value));
}

/** The dense form of a packed block (for changing one of its minutes). */
export function unpackHour(bytes: Uint8Array, start: number, end: number): Float64Array {
  const dense = new Float64Array(DENSE_HOUR_VALUES);
  forEachCount(bytes, start, end, (offset, field, value) => {
    dense[offset * COUNTERS + field] = value;
  });
  return dense;
}
