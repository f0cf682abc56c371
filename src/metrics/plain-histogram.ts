import type { Registry } from 'prom-client';

/** One labelled series of a PlainHistogram: what the hot path holds and calls. */
export class HistogramSeries {
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly bounds: readonly number[],
    readonly labelValue: string | undefined,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

/**
 * A Prometheus histogram whose observations are plain array increments,
 * turned into prom-client's exposition format only at a scrape. A
 * prom-client `observe` builds and hashes a label string and validates
 * labels every time (0.4-0.55 us measured, twice per click); this costs a
 * bucket scan. Registered with a prom-client Registry like its own metrics,
 * and printed alike (`_bucket{le=...}`, `_sum`, `_count`).
 */
export class PlainHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string | undefined, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    registry: Registry,
    private readonly labelName?: string,
  ) {
    registry.registerMetric(this as never);
  }

  /** The series of one label value (none for an unlabelled histogram); keep it. */
  child(labelValue?: string): HistogramSeries {
    let series = this.series.get(labelValue);
    if (series === undefined) {
      series = new HistogramSeries(this.bounds, labelValue);
      this.series.set(labelValue, series);
    }
    return series;
  }

  /** What prom-client's Registry asks of a metric at a scrape. */
  get(): {
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: { labels: Record<string, string | number>; value: number; metricName: string }[];
  } {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const series of this.series.values()) {
      const own: Record<string, string> =
        this.labelName === undefined || series.labelValue === undefined
          ? {}
          : { [this.labelName]: series.labelValue };
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += series.counts[i]!;
        values.push({ labels: { le: bound, ...own }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...own }, value: series.count, metricName: `${this.name}_bucket` });
      values.push({ labels: own, value: series.sum, metricName: `${this.name}_sum` });
      values.push({ labels: own, value: series.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
