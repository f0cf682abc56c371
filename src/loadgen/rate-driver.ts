/**
 * The two ways a load generator offers load.
 *
 * Open loop (`runOpenLoop`): requests leave on a fixed schedule whatever the
 * server does, so a slow server shows up as latency measured from each
 * request's scheduled time, never as a lower offered rate. That is what
 * avoids coordinated omission (Gil Tene, "How NOT to measure latency").
 *
 * Closed loop (`runClosedLoop`): a fixed number of workers each send the next
 * request when the previous one is answered, like wrk: it finds the
 * saturation throughput, and its latencies understate what users would see.
 */

/** A request fired more than this long after its scheduled time counts as late. */
export const LATE_FIRE_MS = 10;

export interface OpenLoopOptions {
  ratePerSecond: number;
  durationMs: number;
  /**
   * Starts request number i, due at `scheduledAt` = start + i / rate
   * (performance.now() time). It must start the request and return without
   * waiting for it; latency should be measured from `scheduledAt`.
   */
  fire: (scheduledAt: number) => void;
  /** Called on every timer tick (about every millisecond at high rates), e.g. for progress lines. */
  onTick?: (now: number, scheduled: number) => void;
}

export interface OpenLoopResult {
  /** Requests fired: ceil(durationMs * ratePerSecond / 1000). */
  scheduled: number;
  /** Of those, how many were fired more than LATE_FIRE_MS after they were due. */
  lateFires: number;
  elapsedMs: number;
}

/**
 * Fires requests at a fixed rate for `durationMs`. A timer wakes about every
 * millisecond (no busy spin) and fires every request now due, each with its
 * own scheduled time. When the process falls behind, the next tick fires
 * all the overdue requests at once (catch-up) and counts them in
 * `lateFires`: the offered rate holds, the schedule is never stretched.
 * Resolves once the duration has passed; rejects if `fire` throws.
 */
export function runOpenLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const { ratePerSecond: rate, durationMs, fire, onTick } = options;
  if (!(rate > 0 && Number.isFinite(rate)))
    throw new RangeError(`ratePerSecond must be positive, got ${rate}`);
  if (!(durationMs >= 0 && Number.isFinite(durationMs))) {
    throw new RangeError(`durationMs must be >= 0, got ${durationMs}`);
  }
  const intervalMs = 1000 / rate;
  // Request i is due at i * intervalMs, for every i with i * intervalMs < durationMs.
  const total = Math.ceil((durationMs * rate) / 1000 - 1e-9);
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const end = start + durationMs;
    let next = 0;
    let late = 0;
    const tick = (): void => {
      try {
        const now = performance.now();
        const due = Math.min(total, Math.floor(((now - start) * rate) / 1000) + 1);
        for (; next < due; next++) {
          const scheduledAt = start + next * intervalMs;
          if (performance.now() - scheduledAt > LATE_FIRE_MS) late++;
          fire(scheduledAt);
        }
        onTick?.(now, next);
        if (next >= total && now >= end) {
          resolve({ scheduled: next, lateFires: late, elapsedMs: now - start });
          return;
        }
        const wakeAt = next < total ? start + next * intervalMs : end;
        setTimeout(tick, Math.max(1, Math.floor(wakeAt - performance.now())));
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    };
    tick();
  });
}

export interface ClosedLoopOptions {
  concurrency: number;
  durationMs: number;
  /** Sends one request and settles when it is answered; a rejection stops every worker. */
  fire: () => Promise<void>;
}

export interface ClosedLoopResult {
  /** Calls of `fire` that resolved. */
  completed: number;
  elapsedMs: number;
}

/**
 * Runs `concurrency` workers, each calling `fire` again as soon as its
 * previous call settles, until `durationMs` has passed; then waits for the
 * calls in flight. Rejects with the first error `fire` rejects with.
 */
export async function runClosedLoop(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const { concurrency, durationMs, fire } = options;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  }
  if (!(durationMs >= 0 && Number.isFinite(durationMs))) {
    throw new RangeError(`durationMs must be >= 0, got ${durationMs}`);
  }
  const start = performance.now();
  const end = start + durationMs;
  let completed = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && performance.now() < end) {
      try {
        await fire();
        completed++;
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (failure !== undefined) throw failure.error;
  return { completed, elapsedMs: performance.now() - start };
}
