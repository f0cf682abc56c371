import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BenchBroker, BenchCluster } from './bench-cluster.js';
import { machineFacts, type MachineFacts } from './bench-result.js';
import {
  aggregateScenario,
  hotAdsScenario,
  type AggregateScenario,
  type HotAdsVariant,
} from './cluster-aggregation.js';
import {
  collectorScenarios,
  waitForCatalog,
  type ClusterContext,
  type CollectorScenarios,
} from './cluster-collectors.js';
import type { ClusterPlan, ClusterScenarioName } from './cluster-plan.js';
import { BENCH_SECRET } from './bench-servers.js';
import { BROWSER_HEADER, driveRequests, trackingPaths } from './request-load.js';
import { AD_COUNT, probeFreshness, type FreshnessRun } from './scenarios.js';

export interface ClusterScenarioRuns {
  collectors?: CollectorScenarios;
  freshness?: FreshnessRun;
  aggregate?: AggregateScenario;
  hotAds?: HotAdsVariant[];
}

/** The headline figures of the cluster mode; null for what was not run. */
export interface ClusterHeadline {
  baseline_rps_wrk: number | null;
  collector_clicks_per_s: number | null;
  collector_ratio: number | null;
  collector_clicks_per_cpu_s: number | null;
  broker_clicks_per_cpu_s: number | null;
  click_p99_ms_at_rate: number | null;
  fixed_rate: number | null;
  freshness_p50_ms: number | null;
  freshness_p99_ms: number | null;
  worker_eps_1: number | null;
  worker_eps_per_worker_2: number | null;
  worker_eps_per_cpu_s: number | null;
}

export interface ClusterBenchResult extends ClusterHeadline {
  readonly mode: 'cluster';
  readonly date: string;
  readonly commit: string;
  readonly quick: boolean;
  readonly durationSeconds: number;
  readonly machine: MachineFacts;
  readonly plan: ClusterPlan;
  readonly scenarios: ClusterScenarioRuns;
}

const round = (v: number | undefined | null): number | null =>
  v === undefined || v === null || !Number.isFinite(v) ? null : Math.round(v * 1000) / 1000;

export function clusterHeadline(s: ClusterScenarioRuns): ClusterHeadline {
  const c = s.collectors === undefined || 'skipped' in s.collectors ? undefined : s.collectors;
  const one = c?.steps.find((step) => step.collectors === 1);
  const base = c?.baseline?.answeredPerSecond;
  const drains = (s.aggregate?.runs ?? []).map((r) => r.drain);
  const d1 = drains.find((d) => d.workers === 1);
  const d2 = drains.find((d) => d.workers === 2);
  return {
    baseline_rps_wrk: round(base),
    collector_clicks_per_s: round(one?.clicksPerSecond),
    collector_ratio: round(one !== undefined && base ? one.clicksPerSecond / base : null),
    collector_clicks_per_cpu_s: round(one?.clicksPerCollectorCpuSecond),
    broker_clicks_per_cpu_s: round(one?.clicksPerBrokerCpuSecond),
    click_p99_ms_at_rate: round(c?.latency?.figures.p99),
    fixed_rate: round(c?.latency?.rate),
    freshness_p50_ms: round(s.freshness?.p50),
    freshness_p99_ms: round(s.freshness?.p99),
    worker_eps_1: round(d1?.eventsPerSecond),
    worker_eps_per_worker_2: round(d2?.eventsPerWorkerPerSecond),
    worker_eps_per_cpu_s: round(d1?.eventsPerWorkerCpuSecond),
  };
}

/**
 * `freshness`: a cluster of one collector, one worker and the api; while
 * background clicks flow to the collector, a probe click goes to it and the
 * api's aggregates are polled every 5 ms until they count it. The first
 * sample (the worker may still be joining its group) is thrown away.
 */
async function clusterFreshness(ctx: ClusterContext): Promise<FreshnessRun> {
  const cluster = await BenchCluster.open(ctx.broker, ctx.dir, { partitions: ctx.plan.partitions });
  try {
    await cluster.spawn('api');
    await cluster.spawn('worker');
    const collector = await cluster.spawn('collector');
    const ads = (await cluster.admin().createAds(AD_COUNT + 1, 'fresh')).map((a) => a.id);
    await waitForCatalog(collector, ads);
    const probe = ads.pop()!;
    await probeFreshness(collector.url, probe, 1, 60_000, cluster.api!.url);
    const backgroundMs = ctx.plan.freshnessSamples * 300 + 2_000;
    const background = driveRequests(collector.url, {
      nextPath: trackingPaths('click', ads, BENCH_SECRET),
      headerLines: BROWSER_HEADER,
      expectStatus: 302,
      rate: ctx.plan.freshnessBackgroundRate,
      durationMs: backgroundMs,
      connections: 64,
      timeoutMs: 10_000,
    });
    const samples = await probeFreshness(
      collector.url,
      probe,
      ctx.plan.freshnessSamples,
      backgroundMs - 1_000,
      cluster.api!.url,
    );
    const load = await background;
    const run: FreshnessRun = {
      samples: samples.count,
      p50: samples.percentile(50),
      p99: samples.percentile(99),
      max: samples.max,
      backgroundPerSecond: load.answeredPerSecond,
    };
    ctx.progress(
      `freshness: p50 ${run.p50.toFixed(0)} ms, p99 ${run.p99.toFixed(0)} ms over ${run.samples} clicks ` +
        `(${Math.round(run.backgroundPerSecond)} background clicks/s)`,
    );
    return run;
  } finally {
    await cluster.stop();
  }
}

/** `adtally bench --mode cluster`: one broker for the whole run, a fresh cluster per measurement. */
export async function runClusterBench(
  options: {
    readonly plan: ClusterPlan;
    readonly scenarios: readonly ClusterScenarioName[];
    readonly quick: boolean;
    readonly commit: string;
  },
  progress: (line: string) => void,
): Promise<ClusterBenchResult> {
  const wants = (name: ClusterScenarioName): boolean => options.scenarios.includes(name);
  const started = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'adtally-bench-cluster-'));
  const s: ClusterScenarioRuns = {};
  try {
    progress('cluster: starting a Kafka broker (scripts/services/kafka.sh)');
    const broker = await BenchBroker.start(dir);
    const ctx: ClusterContext = { plan: options.plan, broker, dir, progress };
    try {
      if (wants('ingest') || wants('latency')) {
        s.collectors = await collectorScenarios(ctx, { ingest: wants('ingest'), latency: wants('latency') });
      }
      if (wants('freshness')) s.freshness = await clusterFreshness(ctx);
      if (wants('aggregate')) s.aggregate = await aggregateScenario(ctx);
      if (wants('hot-ads')) s.hotAds = await hotAdsScenario(ctx);
    } finally {
      await broker.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return {
    mode: 'cluster',
    ...clusterHeadline(s),
    date: new Date().toISOString(),
    commit: options.commit,
    quick: options.quick,
    durationSeconds: (performance.now() - started) / 1000,
    machine: machineFacts(),
    plan: options.plan,
    scenarios: s,
  };
}
