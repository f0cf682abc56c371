import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { LATENCY_BUCKETS } from './metrics.js';

/**
 * The archiver's metrics, in a registry of their own: in `adtally serve` the
 * archiver runs on the aggregation thread, whose registries `/metrics`
 * fetches from there (see AggregationMetrics).
 */
export class ArchiveMetrics {
  readonly registry = new Registry();

  readonly events = new Counter({
    name: 'adtally_archive_events_total',
    help: 'Events written to committed Parquet files of the raw archive',
    registers: [this.registry],
  });

  readonly files = new Counter({
    name: 'adtally_archive_files_total',
    help: 'Parquet files the archiver wrote and committed',
    registers: [this.registry],
  });

  readonly bytes = new Counter({
    name: 'adtally_archive_bytes_total',
    help: 'Bytes of the Parquet files the archiver wrote and committed',
    registers: [this.registry],
  });

  readonly undecodableRecords = new Counter({
    name: 'adtally_archive_undecodable_records_total',
    help: 'Intact log records the archiver could not decode (skipped, not archived)',
    registers: [this.registry],
  });

  readonly faults = new Counter({
    name: 'adtally_archive_faults_total',
    help: 'Rolls that failed (disk, store); each is retried from the last committed position',
    registers: [this.registry],
  });

  readonly rollLatency = new Histogram({
    name: 'adtally_archive_roll_duration_seconds',
    help: "Time of one roll: every buffered hour written, fsync'd, renamed, then the position committed",
    buckets: [...LATENCY_BUCKETS, 5, 10, 30],
    registers: [this.registry],
  });

  readonly lag = new Gauge({
    name: 'adtally_archive_lag_bytes',
    help: 'Durable event log bytes (Kafka: records) not yet in a committed archive file, per partition',
    labelNames: ['partition'],
    registers: [this.registry],
  });

  readonly bufferedBytes = new Gauge({
    name: 'adtally_archive_buffered_bytes',
    help: 'Estimated memory of the rows read and not yet rolled, per partition (bounded by --archive-roll-bytes)',
    labelNames: ['partition'],
    registers: [this.registry],
  });
}
