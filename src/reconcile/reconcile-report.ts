import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ReconcileReport } from './reconcile.js';

/**
 * Reconciliation's metrics, in the registry of the thread the job runs on
 * (the aggregation thread in `serve`).
 */
export class ReconcileMetrics {
  readonly runs: Counter<'result'>;
  readonly minutesChecked: Counter;
  readonly minutesRepaired: Counter;
  readonly lateFolded: Counter;
  readonly lastDuration: Gauge;
  readonly lastSuccess: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.runs = new Counter({
      name: 'adtally_reconcile_runs_total',
      help: 'Reconciliation runs, by result (ok or failed)',
      labelNames: ['result'] as const,
      registers,
    });
    this.minutesChecked = new Counter({
      name: 'adtally_reconcile_buckets_checked_total',
      help: '(ad, minute) pairs reconciliation compared with the archive',
      registers,
    });
    this.minutesRepaired = new Counter({
      name: 'adtally_reconcile_buckets_repaired_total',
      help: '(ad, minute) pairs whose serving counts reconciliation replaced',
      registers,
    });
    this.lateFolded = new Counter({
      name: 'adtally_reconcile_late_events_folded_total',
      help: 'Late events of final minutes that reconciliation folded into the counts',
      registers,
    });
    this.lastDuration = new Gauge({
      name: 'adtally_reconcile_last_duration_seconds',
      help: 'How long the last successful reconciliation took',
      registers,
    });
    this.lastSuccess = new Gauge({
      name: 'adtally_reconcile_last_success_timestamp_seconds',
      help: 'When the last reconciliation succeeded (unix seconds)',
      registers,
    });
  }

  record(report: ReconcileReport): void {
    this.runs.inc({ result: 'ok' });
    this.minutesChecked.inc(report.minutesChecked);
    this.minutesRepaired.inc(report.repaired);
    this.lateFolded.inc(report.lateEventsFolded);
    this.lastDuration.set(report.durationMs / 1000);
    this.lastSuccess.set(Date.parse(report.startedAt) / 1000 + report.durationMs / 1000);
  }
}

/**
 * Writes the report as `<dir>/reconcile-<started at>.json` (written to a
 * temporary name and renamed: a reader never sees half a report); returns
 * its path.
 */
export async function writeReport(dir: string, report: ReconcileReport): Promise<string> {
  await mkdir(dir, { recursive: true });
  const stamp = report.startedAt.replaceAll(':', '').replace('.', '-');
  const path = join(dir, `reconcile-${stamp}.json`);
  await writeFile(`${path}.tmp`, `${JSON.stringify(report, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
  return path;
}

/** The short table the CLI prints. */
export function formatReport(report: ReconcileReport, file?: string): string {
  const lines = [
    `reconciled ${report.from} .. ${report.to} in ${report.durationMs} ms (${report.archiveRows} archive rows read)`,
    `  minutes checked     ${report.minutesChecked}`,
    `  equal               ${report.equal}`,
    `  repaired            ${report.repaired}`,
    `  late events folded  ${report.lateEventsFolded}`,
  ];
  if (report.largestDifferences.length > 0) {
    lines.push(
      '  largest differences:',
      '    ad        minute                    field                     before    after',
    );
    for (const d of report.largestDifferences.slice(0, 10)) {
      lines.push(
        `    ${String(d.ad).padEnd(9)} ${d.minute.padEnd(25)} ${d.field.padEnd(25)} ${String(d.before).padStart(6)} ${String(d.after).padStart(8)}`,
      );
    }
  }
  if (file !== undefined) lines.push(`report: ${file}`);
  return lines.join('\n');
}
