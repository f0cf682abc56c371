import { MINUTE_MS } from '../aggregate/minute.js';
import { formatReport, writeReport, type ReconcileMetrics } from './reconcile-report.js';
import { reconcile, type ReconcileDeps, type ReconcileReport } from './reconcile.js';

export interface RunnerOptions extends ReconcileDeps {
  /** `<data-dir>/reconcile`: one JSON report per run. */
  readonly reportDir: string;
  readonly metrics?: ReconcileMetrics;
}

/** A finished run: the report and where it was written. */
export interface ReconcileRun {
  readonly report: ReconcileReport;
  readonly file: string;
  /** The short table, for a terminal. */
  readonly table: string;
}

const HOUR_MS = 3_600_000;
/** Longest range one run takes: the aggregates' default retention. */
export const MAX_RANGE_MS = 400 * 86_400_000;

/**
 * The default range of `adtally reconcile` and the admin route: the last 24
 * whole hours before the current one.
 */
export function defaultRange(nowMs: number): { fromMinute: number; toMinute: number } {
  const to = Math.floor(nowMs / HOUR_MS) * HOUR_MS;
  return { fromMinute: (to - 24 * HOUR_MS) / MINUTE_MS, toMinute: to / MINUTE_MS };
}

/**
 * `from` and `to` (ISO 8601 instants, each optional) as a minute range,
 * widened to whole minutes; a reason string when they are not a range.
 */
export function parseRange(
  from: string | undefined,
  to: string | undefined,
  nowMs: number,
): { fromMinute: number; toMinute: number } | string {
  const instant = (name: string, raw: string | undefined): number | undefined | string => {
    if (raw === undefined) return undefined;
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/.test(raw)) {
      return `${name} must be an ISO 8601 instant such as 2026-11-23T10:00:00Z`;
    }
    const ms = Date.parse(raw);
    return Number.isNaN(ms) ? `${name} is not a valid date` : ms;
  };
  const fromMs = instant('from', from);
  const toMs = instant('to', to);
  if (typeof fromMs === 'string') return fromMs;
  if (typeof toMs === 'string') return toMs;
  const fallback = defaultRange(nowMs);
  const toMinute = toMs === undefined ? fallback.toMinute : Math.ceil(toMs / MINUTE_MS);
  const fromMinute =
    fromMs === undefined
      ? toMinute - (fallback.toMinute - fallback.fromMinute)
      : Math.floor(fromMs / MINUTE_MS);
  if (fromMinute >= toMinute) return 'from must be before to';
  if ((toMinute - fromMinute) * MINUTE_MS > MAX_RANGE_MS) return 'the range may span at most 400 days';
  return { fromMinute, toMinute };
}

/**
 * Runs reconciliations one at a time in this process (an auto run and an
 * admin request never interleave their snapshots and repairs), writes each
 * report and records the metrics.
 */
export class ReconcileRunner {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: RunnerOptions) {}

  run(fromMinute: number, toMinute: number): Promise<ReconcileRun> {
    const job = this.queue.then(() => this.runNow(fromMinute, toMinute));
    this.queue = job.catch(() => undefined);
    return job;
  }

  private async runNow(fromMinute: number, toMinute: number): Promise<ReconcileRun> {
    try {
      const report = await reconcile(this.options, fromMinute, toMinute);
      const file = await writeReport(this.options.reportDir, report);
      this.options.metrics?.record(report);
      return { report, file, table: formatReport(report, file) };
    } catch (err) {
      this.options.metrics?.runs.inc({ result: 'failed' });
      throw err;
    }
  }
}
