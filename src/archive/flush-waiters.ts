/** `flushNow` gave up: the archive does not cover the log up to `target` yet (retriable). */
export class ArchiveFlushTimeoutError extends Error {
  override readonly name = 'ArchiveFlushTimeoutError';
  readonly retriable = true;

  constructor(
    readonly target: number,
    readonly committed: number,
    timeoutMs: number,
    why: string,
  ) {
    super(
      `the archive did not reach log offset ${target} within ${timeoutMs} ms (committed ${committed}; ${why})`,
    );
  }
}

interface Waiter {
  readonly target: number;
  readonly resolve: (committed: number) => void;
  readonly reject: (err: Error) => void;
}

/**
 * Callers of Archiver.flushNow, each waiting for the committed position to
 * reach the log offset it asked for, each with its own deadline.
 */
export class FlushWaiters {
  private waiters: Waiter[] = [];

  get pending(): boolean {
    return this.waiters.length > 0;
  }

  /**
   * Resolves with the committed offset once `settle` is called with one >=
   * `target`; rejects with an ArchiveFlushTimeoutError after `timeoutMs`,
   * `state()` saying where the archiver stands then.
   */
  wait(target: number, timeoutMs: number, state: () => { committed: number; why: string }): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const { committed, why } = state();
        reject(new ArchiveFlushTimeoutError(target, committed, timeoutMs, why));
      }, timeoutMs);
      const waiter: Waiter = {
        target,
        resolve: (offset) => {
          clearTimeout(timer);
          resolve(offset);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** A commit reached `committed`: every waiter it covers is answered. */
  settle(committed: number): void {
    this.waiters = this.waiters.filter((waiter) => {
      if (waiter.target > committed) return true;
      waiter.resolve(committed);
      return false;
    });
  }

  /** The archiver stopped: waiters it covers are answered, the others rejected with `err`. */
  end(committed: number, err: Error): void {
    this.settle(committed);
    for (const waiter of this.waiters) waiter.reject(err);
    this.waiters = [];
  }
}
