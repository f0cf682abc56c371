import { FIGURE_MEANING, type FigureName, type MeasuredFigures } from './measured-figures.js';

/** What the lab and `adtally plan` ask about a deployment. */
export interface PlanInputs {
  readonly eventsPerSecond: number;
  readonly peakEventsPerSecond: number;
  /** Bytes per event in the event log (the record and its framing). */
  readonly payloadBytes: number;
  readonly activeAds: number;
  /** Share of all events that go to the single hottest ad, 0 to 1. */
  readonly hotAdShare: number;
  readonly queriesPerSecond: number;
  readonly freshnessTargetMs: number;
  readonly retentionRawDays: number;
  readonly retentionAggregateDays: number;
  /** Target availability, e.g. 0.999. */
  readonly availability: number;
  /** Fraction of a measured capacity to plan up to (default 0.7: a peak never runs at the measured limit). */
  readonly headroom?: number;
  /** Token lifetime (h): how long dedup remembers an impression (default 24, the click TTL's default). */
  readonly clickTtlHours?: number;
  /** Days the event log keeps consumed events (default 7, `--log-retention`'s default). */
  readonly logRetentionDays?: number;
}

/** One decision of the plan and what forces it: a measured figure, or an input the user gave. */
export interface PlanStep {
  readonly decision: string;
  readonly because: string;
  /** The measured figure the decision rests on, when one does. */
  readonly figure?: FigureName;
}

export interface CapacityPlan {
  readonly shape: 'single' | 'cluster';
  /** Processes to run: `serve` alone, or the cluster's. */
  readonly processes: {
    readonly serve: number;
    readonly collectors: number;
    readonly workers: number;
    readonly apis: number;
    readonly partitions: number;
    /** Partitions one hot ad is spread over (the Kafka URL's `spread`). */
    readonly spread: number;
  };
  /** Bytes, or undefined where the figure they need is not measured yet. */
  readonly sizes: {
    readonly dedupBytes: number | undefined;
    readonly storeBytes: number | undefined;
    readonly archiveBytesPerDay: number | undefined;
    /** The archive over its whole retention. */
    readonly archiveBytes: number | undefined;
    readonly logBytes: number;
  };
  readonly steps: readonly PlanStep[];
  /** Figures the plan needed and no bench result holds: each answer that needed one says so. */
  readonly unmeasured: readonly FigureName[];
}

/**
 * Past this availability a single host is not enough: every restart, upgrade
 * or crash of the one process is downtime (99% allows 7.2 h a month), so the
 * plan runs two of each process. A policy of the plan, stated where it is used.
 */
const SINGLE_HOST_AVAILABILITY = 0.99;
/** Kafka partitions cannot be removed and each is read by one worker: room for the worker count to double. */
const PARTITIONS_PER_WORKER = 2;
const MINUTES_PER_DAY = 1_440;
const SECONDS_PER_DAY = 86_400;

export class PlanInputError extends Error {
  override readonly name = 'PlanInputError';
}

function check(inputs: PlanInputs): void {
  const positive: (keyof PlanInputs)[] = [
    'eventsPerSecond',
    'peakEventsPerSecond',
    'payloadBytes',
    'activeAds',
  ];
  for (const key of positive) {
    const v = inputs[key] as number;
    if (!(Number.isFinite(v) && v > 0)) throw new PlanInputError(`${key} must be a number > 0, got ${v}`);
  }
  const nonNegative: (keyof PlanInputs)[] = [
    'queriesPerSecond',
    'freshnessTargetMs',
    'retentionRawDays',
    'retentionAggregateDays',
  ];
  for (const key of nonNegative) {
    const v = inputs[key] as number;
    if (!(Number.isFinite(v) && v >= 0)) throw new PlanInputError(`${key} must be a number >= 0, got ${v}`);
  }
  if (inputs.peakEventsPerSecond < inputs.eventsPerSecond) {
    throw new PlanInputError('peakEventsPerSecond must be at least eventsPerSecond');
  }
  if (!(inputs.hotAdShare >= 0 && inputs.hotAdShare <= 1))
    throw new PlanInputError('hotAdShare must be from 0 to 1');
  if (!(inputs.availability > 0 && inputs.availability < 1)) {
    throw new PlanInputError('availability must be between 0 and 1, e.g. 0.999');
  }
  const headroom = inputs.headroom ?? 0.7;
  if (!(headroom > 0 && headroom <= 1)) throw new PlanInputError('headroom must be in (0, 1]');
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/**
 * The recommended shape of a deployment, each step with the figure that
 * forces it. Pure: the figures are passed in (measured-figures.ts reads them
 * from bench/results), so the same inputs always give the same plan.
 */
export function planCapacity(inputs: PlanInputs, figures: MeasuredFigures): CapacityPlan {
  check(inputs);
  const headroom = inputs.headroom ?? 0.7;
  const steps: PlanStep[] = [];
  const unmeasured = new Set<FigureName>();
  const figure = (name: FigureName): number | undefined => {
    const f = figures[name];
    if (f === undefined) unmeasured.add(name);
    return f?.value;
  };
  const peak = inputs.peakEventsPerSecond;
  const pct = `${Math.round(headroom * 100)}%`;

  // 1. Does one `serve` carry the peak? Its ingest and its one aggregation core both must.
  let needsCluster = false;
  const serveClicks = figure('serve_clicks_per_s');
  if (serveClicks === undefined) {
    steps.push({
      decision: 'ingest capacity of one serve unknown',
      because: `${FIGURE_MEANING.serve_clicks_per_s}: not measured yet`,
    });
  } else if (peak > serveClicks * headroom) {
    needsCluster = true;
    steps.push({
      decision: 'several collectors behind a load balancer',
      because: `peak ${fmt(peak)} events/s is over ${pct} of one serve's ${fmt(serveClicks)} durable clicks/s`,
      figure: 'serve_clicks_per_s',
    });
  }
  const perCore = figure('aggregate_eps_per_core');
  if (perCore !== undefined && peak > perCore * headroom) {
    needsCluster = true;
    steps.push({
      decision: 'aggregation on several workers',
      because: `peak ${fmt(peak)} events/s is over ${pct} of the ${fmt(perCore)} events aggregated per core in serve's one aggregation thread`,
      figure: 'aggregate_eps_per_core',
    });
  }
  const redundant = inputs.availability > SINGLE_HOST_AVAILABILITY;
  if (redundant) {
    needsCluster = true;
    steps.push({
      decision: 'two of each process',
      because: `availability ${inputs.availability} is above ${SINGLE_HOST_AVAILABILITY}: every restart of a single process is downtime`,
    });
  }

  // 2. Freshness: the measured p99 of the shape against the target.
  const freshnessFigure: FigureName = needsCluster ? 'cluster_freshness_p99_ms' : 'serve_freshness_p99_ms';
  const freshness = figure(freshnessFigure);
  if (freshness !== undefined && inputs.freshnessTargetMs > 0) {
    steps.push({
      decision:
        freshness <= inputs.freshnessTargetMs
          ? 'freshness target met'
          : 'freshness target NOT met by this shape',
      because: `measured ${FIGURE_MEANING[freshnessFigure]} is ${fmt(freshness)} ms against a target of ${fmt(inputs.freshnessTargetMs)} ms`,
      figure: freshnessFigure,
    });
  }

  let collectors = 0;
  let workers = 0;
  let partitions = 0;
  let spread = 1;
  let apis = 0;
  if (needsCluster) {
    const minimum = redundant ? 2 : 1;
    const perCollector = figure('collector_clicks_per_s');
    collectors = Math.max(
      minimum,
      perCollector === undefined ? minimum : Math.ceil(peak / (perCollector * headroom)),
    );
    steps.push({
      decision: `${collectors} collectors`,
      because:
        perCollector === undefined
          ? `${FIGURE_MEANING.collector_clicks_per_s}: not measured yet, so only the minimum`
          : `peak ${fmt(peak)} events/s over ${pct} of ${fmt(perCollector)} clicks/s per collector`,
      ...(perCollector === undefined ? {} : { figure: 'collector_clicks_per_s' as const }),
    });
    const perWorker = figure('worker_eps');
    workers = Math.max(minimum, perWorker === undefined ? minimum : Math.ceil(peak / (perWorker * headroom)));
    steps.push({
      decision: `${workers} workers`,
      because:
        perWorker === undefined
          ? `${FIGURE_MEANING.worker_eps}: not measured yet, so only the minimum`
          : `peak ${fmt(peak)} events/s over ${pct} of ${fmt(perWorker)} events/s per worker`,
      ...(perWorker === undefined ? {} : { figure: 'worker_eps' as const }),
    });
    partitions = workers * PARTITIONS_PER_WORKER;
    const hotRate = peak * inputs.hotAdShare;
    if (perWorker !== undefined && hotRate > perWorker * headroom) {
      spread = Math.ceil(hotRate / (perWorker * headroom));
      partitions = Math.max(partitions, spread);
      steps.push({
        decision: `spread the hottest ad over ${spread} partitions (spread=${spread})`,
        because: `its ${fmt(hotRate)} events/s at peak are over ${pct} of what one partition's worker aggregates (${fmt(perWorker)} events/s)`,
        figure: 'worker_eps',
      });
    }
    steps.push({
      decision: `${partitions} Kafka partitions`,
      because: `${PARTITIONS_PER_WORKER} per worker, so the worker count can double without repartitioning (partitions cannot be removed)`,
    });
    const queryRate = figure('serve_query_rate');
    apis = Math.max(
      minimum,
      queryRate === undefined ? minimum : Math.ceil(inputs.queriesPerSecond / queryRate),
    );
    const queryP99 = figure('serve_query_p99_ms');
    steps.push({
      decision: `${apis} api processes`,
      because:
        queryRate === undefined
          ? `${FIGURE_MEANING.serve_query_rate}: not measured yet, so only the minimum`
          : `${fmt(inputs.queriesPerSecond)} queries/s against the ${fmt(queryRate)} queries/s the series p99 (${queryP99 === undefined ? '?' : fmt(queryP99)} ms) was measured at`,
      ...(queryRate === undefined ? {} : { figure: 'serve_query_rate' as const }),
    });
  } else {
    steps.unshift({
      decision: 'one adtally serve',
      because: 'the peak fits one process with headroom, and the availability target allows one host',
      ...(serveClicks === undefined ? {} : { figure: 'serve_clicks_per_s' as const }),
    });
  }

  // 3. Sizes.
  const ttlSeconds = (inputs.clickTtlHours ?? 24) * 3_600;
  const entryBytes = figure('dedup_bytes_per_entry');
  // Each event is at most one distinct (kind, ad, imp) live for a TTL: an upper bound.
  const dedupBytes = entryBytes === undefined ? undefined : inputs.eventsPerSecond * ttlSeconds * entryBytes;
  const rowBytes = figure('store_bytes_per_minute_row');
  const storeBytes =
    rowBytes === undefined
      ? undefined
      : inputs.activeAds * MINUTES_PER_DAY * inputs.retentionAggregateDays * rowBytes;
  const eventBytes = figure('archive_bytes_per_event');
  const archiveBytesPerDay =
    eventBytes === undefined ? undefined : inputs.eventsPerSecond * SECONDS_PER_DAY * eventBytes;
  const logBytes =
    inputs.eventsPerSecond * SECONDS_PER_DAY * (inputs.logRetentionDays ?? 7) * inputs.payloadBytes;
  return {
    shape: needsCluster ? 'cluster' : 'single',
    processes: { serve: needsCluster ? 0 : 1, collectors, workers, apis, partitions, spread },
    sizes: {
      dedupBytes,
      storeBytes,
      archiveBytesPerDay,
      archiveBytes:
        archiveBytesPerDay === undefined ? undefined : archiveBytesPerDay * inputs.retentionRawDays,
      logBytes,
    },
    steps,
    unmeasured: [...unmeasured],
  };
}
