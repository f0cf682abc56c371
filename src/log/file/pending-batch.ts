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
 */
export class PendingBatch {
  private buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  private used = 0;
  private waiters: Waiter[] = [];

  get bytes(): number {
    return this.used;
  }

  get records(): number {
    return this.waiters.length;
  }

  /** The frames, `bytes` long; valid until the next reset(). */
  get data(): Buffer {
    return this.buffer.subarray(0, this.used);
  }

  /** Frames `payload` (already validated) and returns a promise settled by the flush. */
  add(payload: Buffer, offset: number): Promise<number> {
    const needed = this.used + frameSize(payload.length);
    if (needed > this.buffer.length) this.grow(needed);
    this.used += writeFrame(this.buffer, this.used, payload);
    return new Promise<number>((resolve, reject) => this.waiters.push({ offset, resolve, reject }));
  }

  resolveAll(): void {
    for (const waiter of this.waiters) waiter.resolve(waiter.offset);
    this.reset();
  }

  rejectAll(error: Error): void {
    for (const waiter of this.waiters) waiter.reject(error);
    this.reset();
  }

  private reset(): void {
    this.used = 0;
    this.waiters = [];
    if (this.buffer.length > MAX_RETAINED_BYTES) this.buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  }

  private grow(needed: number): void {
    const grown = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2));
    this.buffer.copy(grown, 0, 0, this.used);
    this.buffer = grown;
  }
}
