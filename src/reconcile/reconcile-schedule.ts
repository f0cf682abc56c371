import type { AggregateStore } from '../store/aggregate-store.js';
import type { ReconcileRunner } from './reconcile-runner.js';

const HOUR_MS = 3_600_000;
const HOUR_MINUTES = 60;
/** Closed hours caught up in one tick after a pause (a stopped process, a failing archive). */
const MAX_CATCH_UP_HOURS = 24;
export const DEFAULT_RECONCILE_GRACE_MS = 10 * 60_000;
const TICK_MS = 60_000;

/** The end (a minute) of the latest hour closed for at least `graceMs` at `nowMs`. */
export function closedUntil(nowMs: number, graceMs: number): number {
  return (Math.floor((nowMs - graceMs) / HOUR_MS) * HOUR_MS) / 60_000;
}

/**
 * The hours (first minutes) an auto run reconciles at `nowMs`: every hour
 * closed for at least `graceMs` since the last one done (only the latest at
 * the first tick, at most MAX_CATCH_UP_HOURS), and every earlier closed hour
 * where late events wait in agg_late.
 */
export function hoursDue(
  nowMs: number,
  graceMs: number,
  doneUntilMinute: number | undefined,
  lateHours: readonly number[],
): { hours: number[]; closedUntilMinute: number } {
  const closedUntilMinute = closedUntil(nowMs, graceMs);
  const first =
    doneUntilMinute === undefined
      ? closedUntilMinute - HOUR_MINUTES
      : Math.max(doneUntilMinute, closedUntilMinute - MAX_CATCH_UP_HOURS * HOUR_MINUTES);
  const hours = new Set<number>();
  for (let h = first; h < closedUntilMinute; h += HOUR_MINUTES) hours.add(h);
  for (const h of lateHours) if (h < closedUntilMinute) hours.add(h);
  return { hours: [...hours].sort((a, b) => a - b), closedUntilMinute };
}

export interface ScheduleOptions {
  readonly runner: Pick<ReconcileRunner, 'run'>;
  readonly store: Pick<AggregateStore, 'lateHours'>;
  readonly graceMs: number;
  /** Whether this process runs them now (a worker: while it holds partition 0). */
  readonly active?: () => boolean;
  readonly log: (line: string) => void;
  readonly now?: () => number;
}

/**
 * Auto runs (SPEC 4.5): each hour is reconciled once it is closed plus the
 * grace, and an hour is taken again while late events wait in it. A failed
 * hour is tried again at the next tick (every minute); the same failure is
 * logged once until a run succeeds.
 */
export class ReconcileSchedule {
  private doneUntil: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastFailure: string | undefined;

  constructor(private readonly options: ScheduleOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), TICK_MS);
    this.timer.unref();
    void this.tick();
  }

  /** One pass; resolves when its runs are done (a pass already under way is not doubled). */
  tick(): Promise<void> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private async pass(): Promise<void> {
    if (this.options.active?.() === false) return;
    const now = (this.options.now ?? Date.now)();
    try {
      const late = await this.options.store.lateHours(closedUntil(now, this.options.graceMs));
      const { hours, closedUntilMinute } = hoursDue(now, this.options.graceMs, this.doneUntil, late);
      for (const hour of hours) {
        const { report } = await this.options.runner.run(hour, hour + HOUR_MINUTES);
        if (report.repaired > 0 || report.lateEventsFolded > 0) {
          this.options.log(
            `adtally: reconciled ${report.from}: ${report.repaired} of ${report.minutesChecked} minutes repaired, ${report.lateEventsFolded} late events folded`,
          );
        }
      }
      this.doneUntil = closedUntilMinute;
      this.lastFailure = undefined;
    } catch (err) {
      const message = (err as Error).message;
      if (message !== this.lastFailure)
        this.options.log(`adtally: reconciliation failed, retried every minute: ${message}`);
      this.lastFailure = message;
    }
  }
}
