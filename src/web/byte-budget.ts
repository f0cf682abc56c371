/**
 * A global budget of request-body bytes in flight, so the memory that clients
 * can make the process spend on bodies is bounded however many of them send at
 * once. Each request opens a Reservation, covers what it is about to hold
 * (the declared Content-Length up front, or the bytes read so far when there is
 * none) and releases it once, when the request has settled.
 */
export class ByteBudget {
  private used = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity <= 0) {
      throw new RangeError(`a byte budget needs a positive integer capacity, got ${capacity}`);
    }
  }

  /** Bytes currently held by open reservations. */
  get inUse(): number {
    return this.used;
  }

  /** A reservation holding nothing yet. */
  open(): Reservation {
    return new Reservation(this);
  }

  /** @internal Takes `bytes` if they fit; used by Reservation only. */
  take(bytes: number): boolean {
    if (this.used + bytes > this.capacity) return false;
    this.used += bytes;
    return true;
  }

  /** @internal Gives back bytes a reservation held. */
  give(bytes: number): void {
    this.used -= bytes;
  }
}

/** One request's share of a ByteBudget. */
export class Reservation {
  private held = 0;
  private released = false;

  constructor(private readonly budget: ByteBudget) {}

  /** Bytes this reservation holds. */
  get bytes(): number {
    return this.held;
  }

  /**
   * Makes the reservation hold at least `total` bytes. False, holding what it
   * held before, when the budget cannot give the difference, or once released.
   */
  cover(total: number): boolean {
    if (this.released) return false;
    if (total <= this.held) return true;
    if (!this.budget.take(total - this.held)) return false;
    this.held = total;
    return true;
  }

  /** Gives every held byte back. Safe to call more than once: only the first call counts. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.budget.give(this.held);
    this.held = 0;
  }
}
