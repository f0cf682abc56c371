import { join } from 'node:path';
import type { Registry } from 'prom-client';
import type { AggregateStore } from '../store/aggregate-store.js';
import { ReconcileMetrics } from './reconcile-report.js';
import { ReconcileRunner } from './reconcile-runner.js';
import { ReconcileSchedule } from './reconcile-schedule.js';
import type { Cuts } from './reconcile.js';

export interface ReconcileServiceOptions {
  readonly store: AggregateStore;
  readonly archiveRoot: string;
  readonly dataDir: string;
  readonly consumerPrefix: string;
  readonly partitionOf: (consumer: string) => number | undefined;
  readonly ensureArchived: (cuts: Cuts) => Promise<void>;
  readonly allowedLatenessMs: number;
  readonly clickTtlMs: number;
  /** Auto runs once an hour is closed plus this long; undefined: only on request. */
  readonly graceMs: number | undefined;
  /** For a worker: auto runs only while this is true (it holds partition 0). */
  readonly active?: () => boolean;
  readonly registry: Registry;
  readonly log: (line: string) => void;
}

export interface ReconcileService {
  readonly runner: ReconcileRunner;
  stop(): Promise<void>;
}

/**
 * Reconciliation inside a long-running process (serve's aggregation thread,
 * a worker): one runner, reports under `<data-dir>/reconcile/`, metrics in
 * the given registry, and the hourly auto runs.
 */
export function startReconcileService(options: ReconcileServiceOptions): ReconcileService {
  const runner = new ReconcileRunner({
    store: options.store,
    archiveRoot: options.archiveRoot,
    tempDir: join(options.dataDir, 'reconcile', 'tmp'),
    consumerPrefix: options.consumerPrefix,
    partitionOf: options.partitionOf,
    ensureArchived: options.ensureArchived,
    allowedLatenessMs: options.allowedLatenessMs,
    clickTtlMs: options.clickTtlMs,
    reportDir: join(options.dataDir, 'reconcile'),
    metrics: new ReconcileMetrics(options.registry),
  });
  const schedule =
    options.graceMs === undefined
      ? undefined
      : new ReconcileSchedule({
          runner,
          store: options.store,
          graceMs: options.graceMs,
          ...(options.active === undefined ? {} : { active: options.active }),
          log: options.log,
        });
  schedule?.start();
  return { runner, stop: async () => schedule?.stop() };
}
