import { Gauge, Registry } from 'prom-client';

export interface WorkerMetricsSources {
  /** Records behind the partition's end, per partition held. */
  readonly lag: () => ReadonlyMap<number, number>;
  readonly committedWatermark: () => number | undefined;
  readonly held: () => number;
  readonly dedupLosses: () => number;
}

/** What `adtally worker` adds to /metrics: read at scrape time from the consumer and the partitions. */
export class WorkerMetrics {
  readonly registry = new Registry();

  constructor(sources: WorkerMetricsSources, now: () => number = Date.now) {
    new Gauge({
      name: 'adtally_kafka_consumer_lag_records',
      help: 'Records of each held partition not yet committed to the store',
      labelNames: ['partition'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [partition, lag] of sources.lag()) this.set({ partition: String(partition) }, lag);
      },
    });
    new Gauge({
      name: 'adtally_worker_watermark_delay_seconds',
      help: 'Wall clock minus the lowest committed watermark over the held partitions',
      registers: [this.registry],
      collect() {
        const watermark = sources.committedWatermark();
        if (watermark !== undefined) this.set((now() - watermark) / 1000);
      },
    });
    new Gauge({
      name: 'adtally_dedup_state_losses',
      help: 'Times this worker found the dedup store had lost its state (Redis restarted empty) and went on',
      registers: [this.registry],
      collect() {
        this.set(sources.dedupLosses());
      },
    });
    new Gauge({
      name: 'adtally_worker_partitions',
      help: 'Partitions this worker holds and aggregates',
      registers: [this.registry],
      collect() {
        this.set(sources.held());
      },
    });
  }
}
