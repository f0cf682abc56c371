/**
 * The file log's durable end, shared between the thread that appends and a
 * thread that follows the log (the aggregation thread of `adtally serve`),
 * in one SharedArrayBuffer: no message per group commit.
 *
 * Layout: [0] durable end, [1] base of the active segment (BigInt64 slots,
 * offsets are byte positions and pass 2^31 in a day of traffic). The writer
 * stores the active base before the durable end, and a reader loads the
 * durable end first: a reader that sees an end in a new segment also sees
 * that segment's base, and so knows to list the directory again.
 */
export class DurableEndCell {
  private readonly slots: BigInt64Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(2 * 8)) {
    if (buffer.byteLength < 16) throw new RangeError('a durable end cell needs 16 bytes');
    this.slots = new BigInt64Array(buffer, 0, 2);
  }

  /** Writer side: called after each group commit, once its records are durable. */
  publish(durableEnd: number, activeSegmentBase: number): void {
    Atomics.store(this.slots, 1, BigInt(activeSegmentBase));
    Atomics.store(this.slots, 0, BigInt(durableEnd));
  }

  durableEnd(): number {
    return Number(Atomics.load(this.slots, 0));
  }

  activeSegmentBase(): number {
    return Number(Atomics.load(this.slots, 1));
  }
}
