import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { LATENCY_BUCKETS } from './metrics.js';

/**
 * The aggregation worker's metrics. They live in a registry of their own
 * because the worker runs on its own thread in `adtally serve` (a
 * prom-client registry belongs to one thread): `/metrics` on the request
 * thread appends this registry's text, fetched from the aggregation thread.
 */
export class AggregationMetrics {
  readonly registry = new Registry();

  readonly aggregatedEvents = new Counter({
    name: 'adtally_aggregated_events_total',
    help: 'Events the aggregation worker has committed to the store',
    registers: [this.registry],
  });

  readonly undecodableRecords = new Counter({
    name: 'adtally_undecodable_records_total',
    help: 'Intact log records the aggregation worker could not decode (skipped)',
    registers: [this.registry],
  });

  readonly replayedForwards = new Counter({
    name: 'adtally_replayed_forwards_total',
    help: 'Second copies of records a collector forwarded from its spill log (a replayed forward), skipped',
    registers: [this.registry],
  });

  readonly lateEvents = new Counter({
    name: 'adtally_late_events_total',
    help: 'Events whose event time was behind the watermark when aggregated',
    registers: [this.registry],
  });

  readonly consumerLag = new Gauge({
    name: 'adtally_consumer_lag_bytes',
    help: 'Durable event log bytes not yet committed to the store by the aggregation worker',
    registers: [this.registry],
  });

  readonly watermarkDelay = new Gauge({
    name: 'adtally_watermark_delay_seconds',
    help: 'Wall clock minus the committed watermark, at the last commit',
    registers: [this.registry],
  });

  readonly storeFlushLatency = new Histogram({
    name: 'adtally_store_flush_duration_seconds',
    help: 'Time of one aggregation commit (counts, dedup entries and offset in one transaction)',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly dedupSize = new Gauge({
    name: 'adtally_dedup_entries',
    help: 'Impressions (ad, imp), per kind, the dedup state remembers',
    registers: [this.registry],
  });
}
