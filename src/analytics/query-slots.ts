/**
 * A fixed number of slots for heavy work (a sandboxed statement, an
 * export), taken without waiting: a caller that finds none free is answered
 * 503 at once, so queued requests never pile up memory behind the running ones.
 */
export class QuerySlots {
  private used = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity <= 0) {
      throw new RangeError(`query slots need a positive integer capacity, got ${capacity}`);
    }
  }

  get inUse(): number {
    return this.used;
  }

  /** A release function (safe to call more than once), or undefined when every slot is taken. */
  tryTake(): (() => void) | undefined {
    if (this.used >= this.capacity) return undefined;
    this.used++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used--;
    };
  }
}
