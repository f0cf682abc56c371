import { frameSize, writeFrame } from '../record-framing.js';

interface Waiter {
  readonly offset: number;
  readonly resolve: (offset: number) => void;
  readonly reject: (error: Error) => void;
}

const INITIAL_BYTES = 64 * 1024;
/** A buffer grown past this by a burst is dropped after its flush rather than kept forever. */
const MAX_RETAINED_BYTES = 8 * 1024 * 1024;

/**
 * Appends waiting for one group commit: their frames, back to back in one
 * reusable buffer (written with a single `write`), and the promises to settle
 * once that write is fsynced. The log keeps two and swaps them, because the
 * buffer of the flush in flight is being read by a libuv thread and must not
 * be touched until that write completes.
 *
 * A batch that would carry a segment past its size limit is written in parts
 * (see `partBytes`): `unwritten` is what is left after the parts settled so
 * far, and `settle` resolves exactly the appends whose frames a durable part
 * holds, so no append is acknowledged before its own bytes are fsynced.
 */
export class PendingBatch {
  private buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  private used = 0;
  private waiters: Waiter[] = [];
  /** Bytes and waiters of the parts already settled. */
  private settledBytes = 0;
  private settledWaiters = 0;

  /** Bytes not yet settled. */
  get bytes(): number {
    return this.used - this.settledBytes;
  }

  /** Appends not yet settled. */
  get records(): number {
    return this.waiters.length - this.settledWaiters;
  }

  /** The frames not yet settled, `bytes` long; valid until the next settle or reset. */
  get unwritten(): Buffer {
    return this.buffer.subarray(this.settledBytes, this.used);
  }

  /** Frames `payload` (already validated) and returns a promise settled by the flush. */
  add(payload: Buffer, offset: number): Promise<number> {
    const needed = this.used + frameSize(payload.length);
    if (needed > this.buffer.length) this.grow(needed);
    this.used += writeFrame(this.buffer, this.used, payload);
    return new Promise<number>((resolve, reject) => this.waiters.push({ offset, resolve, reject }));
  }

  /**
   * Length of the next part to write when only `room` bytes are left below a
   * segment's limit: every unwritten frame that starts below `room`, so the
   * part ends at the first frame boundary at or past it (at most one frame
   * crosses the limit). All of `bytes` when it fits; 0 when `room` <= 0.
   */
  partBytes(room: number): number {
    if (room >= this.bytes) return this.bytes;
    if (room <= 0) return 0;
    // Frame starts are the waiters' offsets; binary search for the first at or past `room`.
    const first = this.waiters[this.settledWaiters]!.offset;
    let low = this.settledWaiters;
    let high = this.waiters.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.waiters[mid]!.offset - first >= room) high = mid;
      else low = mid + 1;
    }
    return low === this.waiters.length ? this.bytes : this.waiters[low]!.offset - first;
  }

  /**
   * Resolves the appends whose frames are the first `bytes` unwritten bytes
   * (a length returned by partBytes, now durable); returns how many. The
   * batch resets once everything in it is settled.
   */
  settle(bytes: number): number {
    const end = this.waiters[this.settledWaiters]!.offset + bytes;
    const from = this.settledWaiters;
    let i = from;
    for (; i < this.waiters.length && this.waiters[i]!.offset < end; i++) {
      this.waiters[i]!.resolve(this.waiters[i]!.offset);
    }
    this.settledWaiters = i;
    this.settledBytes += bytes;
    if (this.settledWaiters === this.waiters.length) this.reset();
    return i - from;
  }

  /** Rejects every append not yet settled. */
  rejectAll(error: Error): void {
    for (let i = this.settledWaiters; i < this.waiters.length; i++) this.waiters[i]!.reject(error);
    this.reset();
  }

  private reset(): void {
    this.used = 0;
    this.settledBytes = 0;
    this.settledWaiters = 0;
    this.waiters = [];
    if (this.buffer.length > MAX_RETAINED_BYTES) this.buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  }

  private grow(needed: number): void {
    const grown = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2));
    this.buffer.copy(grown, 0, 0, this.used);
    this.buffer = grown;
  }
}
