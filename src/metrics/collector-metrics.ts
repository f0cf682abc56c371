import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ProduceObserver } from '../log/kafka/kafka-event-appender.js';
import type { SpillState } from '../log/spill/spilling-appender.js';
import { LATENCY_BUCKETS } from './metrics.js';

/**
 * What `adtally collector` adds to /metrics: Kafka produce requests (the
 * group commit's size and latency) and store and forward (read from the
 * spilling appender at scrape time). The per-event append latency is the
 * shared `adtally_log_append_duration_seconds`.
 */
export class CollectorMetrics implements ProduceObserver {
  readonly registry = new Registry();

  private readonly produceLatency = new Histogram({
    name: 'adtally_kafka_produce_duration_seconds',
    help: 'Time of one Kafka produce request (acks=all), from send to acknowledgement or failure',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  private readonly produceRecords = new Histogram({
    name: 'adtally_kafka_produce_records',
    help: 'Records per Kafka produce request (the group commit)',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000],
    registers: [this.registry],
  });

  private readonly produceFailures = new Counter({
    name: 'adtally_kafka_produce_failures_total',
    help: 'Kafka produce requests that failed for good (their records of unknown fate, answered 503)',
    registers: [this.registry],
  });

  /** Adds the store-and-forward gauges, read from `spill` at each scrape. */
  watchSpill(spill: () => SpillState): void {
    new Gauge({
      name: 'adtally_spilling',
      help: '1 while events go to the local spill log (Kafka unavailable), else 0',
      registers: [this.registry],
      collect() {
        this.set(spill().mode === 'spilling' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'adtally_spill_pending_bytes',
      help: 'Spill log bytes not yet forwarded to Kafka',
      registers: [this.registry],
      collect() {
        this.set(spill().pendingBytes);
      },
    });
    new Gauge({
      name: 'adtally_spilled_events',
      help: 'Events spilled to the local log since start',
      registers: [this.registry],
      collect() {
        this.set(spill().spilled);
      },
    });
    new Gauge({
      name: 'adtally_forwarded_events',
      help: 'Spilled events forwarded to Kafka since start',
      registers: [this.registry],
      collect() {
        this.set(spill().forwarded);
      },
    });
  }

  onProduce(produce: { records: number; bytes: number; seconds: number; failed: boolean }): void {
    this.produceLatency.observe(produce.seconds);
    this.produceRecords.observe(produce.records);
    if (produce.failed) this.produceFailures.inc();
  }
}
