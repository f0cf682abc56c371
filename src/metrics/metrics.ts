import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LogFlushObserver, LogStorage, RetentionResult } from '../log/event-log.js';
import type { LogRetentionObserver } from '../log/log-retention.js';
import type { AggregateDeletion, ArchiveDeletion, RetentionObserver } from '../retention/data-retention.js';
import { PlainHistogram, type HistogramSeries } from './plain-histogram.js';

/** Default metrics prom-client exports as gauges with a `_total` suffix. */
const NON_COUNTER_TOTALS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** The process's Prometheus metrics; one instance, passed to whoever records. */
export class Metrics implements LogFlushObserver, LogRetentionObserver, RetentionObserver {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'adtally_http_requests_total',
    help: 'HTTP requests by route and status code',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
    collect: (): void => this.requestCounts.flush(),
  });

  readonly httpLatency = new PlainHistogram(
    'adtally_http_request_duration_seconds',
    'Time from request to answer, by route',
    LATENCY_BUCKETS,
    this.registry,
    'route',
  );

  readonly events = new Counter({
    name: 'adtally_ingest_events_total',
    help: 'Events written to the event log, by type and outcome',
    labelNames: ['type', 'outcome'] as const,
    registers: [this.registry],
    collect: (): void => this.eventCounts.flush(),
  });

  readonly batchLines = new Counter({
    name: 'adtally_batch_lines_total',
    help: 'POST /events lines by result (accepted or rejected)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  /** Observed once per event on the click path: see PlainHistogram. */
  readonly logAppendLatency = new PlainHistogram(
    'adtally_log_append_duration_seconds',
    'Time from append to durable acknowledgement, per event',
    LATENCY_BUCKETS,
    this.registry,
  ).child();

  readonly logWriteLatency = new Histogram({
    name: 'adtally_log_write_duration_seconds',
    help: 'Time of the write() of one group commit',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly logFsyncLatency = new Histogram({
    name: 'adtally_log_fsync_duration_seconds',
    help: 'Time of the fdatasync() of one group commit',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly logBatchRecords = new Histogram({
    name: 'adtally_log_batch_records',
    help: 'Records covered by one fsync (group commit size)',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registers: [this.registry],
  });

  readonly logFlushes = new Counter({
    name: 'adtally_log_flushes_total',
    help: 'Group commits (one write and one fdatasync each)',
    registers: [this.registry],
  });

  /** Read at every scrape (see watchLogStorage), so the log gauges are right from the first one. */
  private logStorage: (() => LogStorage) | undefined;

  readonly logBytes = new Gauge({
    name: 'adtally_log_bytes',
    help: 'Bytes of event log segment files on disk (preallocated zeros of the active segment included)',
    registers: [this.registry],
    collect: () => {
      if (this.logStorage !== undefined) this.logBytes.set(this.logStorage().bytes);
    },
  });

  readonly logSegments = new Gauge({
    name: 'adtally_log_segments',
    help: 'Event log segment files on disk',
    registers: [this.registry],
    collect: () => {
      if (this.logStorage !== undefined) this.logSegments.set(this.logStorage().segments);
    },
  });

  readonly retentionArchiveHours = new Counter({
    name: 'adtally_retention_archive_partitions_deleted_total',
    help: 'Raw archive hour directories (Hive partitions dt=/hour=) deleted by --retention',
    registers: [this.registry],
  });

  readonly retentionArchiveBytes = new Counter({
    name: 'adtally_retention_archive_bytes_deleted_total',
    help: 'Raw archive bytes deleted by --retention',
    registers: [this.registry],
  });

  readonly retentionAggregateRows = new Counter({
    name: 'adtally_retention_aggregate_rows_deleted_total',
    help: 'Aggregate (ad, minute) rows deleted by --retention (dropped day partitions included)',
    registers: [this.registry],
  });

  readonly logDeletedSegments = new Counter({
    name: 'adtally_log_deleted_segments_total',
    help: 'Event log segments deleted by retention (consumed, and older than --log-retention or over --log-retention-bytes)',
    registers: [this.registry],
  });

  /** What /readyz checks, asked again at every scrape for adtally_ready. */
  private readinessChecks: Readonly<Record<string, () => Promise<void>>> = {};

  readonly ready = new Gauge({
    name: 'adtally_ready',
    help: '1 while the readiness check passes and 0 while it fails (the checks /readyz makes), by check',
    labelNames: ['check'] as const,
    registers: [this.registry],
    collect: async (): Promise<void> => {
      const checks = Object.entries(this.readinessChecks);
      const passed = await Promise.all(
        checks.map(([, check]) =>
          check().then(
            () => 1,
            () => 0,
          ),
        ),
      );
      checks.forEach(([name], i) => this.ready.set({ check: name }, passed[i]!));
    },
  });

  /** Counted in plain numbers and added to the counters when they are collected (at a scrape). */
  private readonly requestCounts: PendingCounts = new PendingCounts(this.httpRequests);
  private readonly eventCounts: PendingCounts = new PendingCounts(this.events);
  /** Each route's latency series, looked up once. */
  private readonly latencyChildren = new Map<string, HistogramSeries>();

  /** One answered request: counted by route and status, timed by route. */
  recordRequest(route: string, status: number, seconds: number): void {
    this.requestCounts.add(route, status);
    let latency = this.latencyChildren.get(route);
    if (latency === undefined) {
      latency = this.httpLatency.child(route);
      this.latencyChildren.set(route, latency);
    }
    latency.observe(seconds);
  }

  /** One event written to the log (or a malformed request that could not be). */
  recordEvent(type: string, outcome: string): void {
    this.eventCounts.add(type, outcome);
  }

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'adtally_' });
    // prom-client names these gauges *_total, a suffix Prometheus reserves for counters
    // (`promtool check metrics` refuses them); they are the sums of the per-type gauges
    // adtally_nodejs_active_{handles,requests,resources}{type}, which stay.
    for (const name of NON_COUNTER_TOTALS) this.registry.removeSingleMetric(`adtally_${name}`);
  }

  /** Makes the log gauges read `storage` at every scrape. */
  watchLogStorage(storage: () => LogStorage): void {
    this.logStorage = storage;
  }

  /** Makes adtally_ready run these checks at every scrape (alerting sees what /readyz says). */
  watchReadiness(checks: Readonly<Record<string, () => Promise<void>>>): void {
    this.readinessChecks = checks;
  }

  onArchiveDeleted(deleted: ArchiveDeletion): void {
    this.retentionArchiveHours.inc(deleted.hours);
    this.retentionArchiveBytes.inc(deleted.bytes);
  }

  onAggregatesDeleted(deleted: AggregateDeletion): void {
    this.retentionAggregateRows.inc(deleted.rows);
  }

  onRetention(result: RetentionResult): void {
    this.logDeletedSegments.inc(result.deletedSegments);
  }

  onFlush(flush: { records: number; bytes: number; writeSeconds: number; fsyncSeconds: number }): void {
    this.logFlushes.inc();
    this.logBatchRecords.observe(flush.records);
    this.logWriteLatency.observe(flush.writeSeconds);
    this.logFsyncLatency.observe(flush.fsyncSeconds);
  }
}

/**
 * Increments of a two-label counter kept as plain numbers until the counter
 * is collected: prom-client's inc() converts and hashes the labels on every
 * call, about 250 ns, twice per click (measured, scripts/measure/micro/metrics.mjs).
 * A scrape sees every increment made before it, as with inc().
 */
class PendingCounts {
  private readonly byFirst = new Map<string, Map<string | number, { labels: [string, string]; n: number }>>();

  constructor(private readonly counter: Counter<string>) {}

  add(first: string, second: string | number): void {
    let bySecond = this.byFirst.get(first);
    if (bySecond === undefined) {
      bySecond = new Map();
      this.byFirst.set(first, bySecond);
    }
    const entry = bySecond.get(second);
    if (entry === undefined) bySecond.set(second, { labels: [first, String(second)], n: 1 });
    else entry.n++;
  }

  flush(): void {
    for (const bySecond of this.byFirst.values()) {
      for (const entry of bySecond.values()) {
        if (entry.n === 0) continue;
        this.counter.labels(...entry.labels).inc(entry.n);
        entry.n = 0;
      }
    }
  }
}
