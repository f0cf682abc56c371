import { join } from 'node:path';
import type { AdtallyChild } from '../cluster/adtally-child.js';
import { BenchCluster, cpuSeconds, type BenchBroker } from './bench-cluster.js';
import { BENCH_SECRET, startBareServer } from './bench-servers.js';
import type { ClusterPlan } from './cluster-plan.js';
import { BROWSER_HEADER, driveRequests, trackingPaths, type LoadFigures } from './request-load.js';
import { AD_COUNT, sleep } from './scenarios.js';
import {
  driveWithWrk,
  ensureWrk,
  wrkSeconds,
  writeClickPaths,
  type WrkFigures,
  type WrkLoad,
} from './wrk-load.js';
import { validClicks } from './wrk-scenario.js';

export interface ClusterContext {
  readonly plan: ClusterPlan;
  readonly broker: BenchBroker;
  readonly dir: string;
  readonly progress: (line: string) => void;
}

/** One collector process under its own wrk during a scaling step. */
export interface CollectorRun {
  readonly wrk: WrkFigures;
  /** CPU seconds of the collector process during the measured run. */
  readonly cpuSeconds: number;
}

/** N collector processes saturated at once, one wrk each. */
export interface CollectorStep {
  readonly collectors: number;
  readonly runs: CollectorRun[];
  /** Sum over the collectors of answered clicks/s. */
  readonly clicksPerSecond: number;
  /** Valid clicks (from each collector's /metrics) over the collectors' CPU seconds. */
  readonly clicksPerCollectorCpuSecond: number;
  /** CPU seconds of the broker during the step, and valid clicks per broker CPU-second. */
  readonly brokerCpuSeconds: number;
  readonly clicksPerBrokerCpuSecond: number;
}

export interface FixedRateRun {
  readonly rate: number;
  readonly figures: LoadFigures;
}

export type CollectorScenarios =
  | { readonly skipped: string }
  | {
      /** The bare node:http 302 server under the same wrk, in the same run. */
      readonly baseline: WrkFigures | undefined;
      readonly steps: CollectorStep[];
      readonly latency: FixedRateRun | undefined;
    };

/** Signed click paths per second of run in the file every wrk walks. */
const PATHS_PER_SECOND = 40_000;
const TIMEOUT_MS = 10_000;

/** Sends valid clicks for the highest ad until `collector` knows it (the catalog reached it by LISTEN/NOTIFY). */
export async function waitForCatalog(collector: AdtallyChild, ads: readonly number[]): Promise<void> {
  const next = trackingPaths('click', [Math.max(...ads)], BENCH_SECRET);
  const deadline = performance.now() + 15_000;
  for (;;) {
    const res = await fetch(new URL(next(), collector.url), {
      redirect: 'manual',
      headers: { 'user-agent': BROWSER_HEADER.slice('User-Agent: '.length).trim() },
    });
    if (res.status === 302) return;
    if (performance.now() > deadline) throw new Error(`${collector.name} never knew ad ${Math.max(...ads)}`);
    await sleep(100);
  }
}

/**
 * `ingest` and `latency`: one cluster with as many collectors as the largest
 * scaling step and an api, no worker (a collector's cost alone; the events
 * stay in the topic). The bare server first, under the same wrk, then each
 * step: N collectors, each saturated by its own wrk at once; then the
 * fixed-rate run against one collector with the bench's open-loop client.
 */
export async function collectorScenarios(
  ctx: ClusterContext,
  wants: { ingest: boolean; latency: boolean },
): Promise<CollectorScenarios> {
  const { plan } = ctx;
  const wrk = wants.ingest ? await ensureWrk() : ({ ready: true } as const);
  if (!wrk.ready) {
    ctx.progress(`ingest skipped: ${wrk.reason}`);
    return { skipped: wrk.reason };
  }
  const steps = wants.ingest ? plan.collectorSteps : [];
  const cluster = await BenchCluster.open(ctx.broker, ctx.dir, { partitions: plan.partitions });
  try {
    await cluster.spawn('api');
    for (let i = 0; i < Math.max(1, ...steps); i++) await cluster.spawn('collector');
    const ads = (await cluster.admin().createAds(AD_COUNT, 'bench-cluster')).map((a) => a.id);
    for (const c of cluster.collectors) await waitForCatalog(c, ads);
    let baseline: WrkFigures | undefined;
    const measured: CollectorStep[] = [];
    if (wants.ingest) {
      const warmupMs = wrkSeconds(plan.warmupMs) * 1_000;
      const pathCount = ((warmupMs + wrkSeconds(plan.throughputMs) * 1_000) / 1_000) * PATHS_PER_SECOND;
      const pathsFile = join(ctx.dir, 'cluster-click-paths.txt');
      const started = performance.now();
      await writeClickPaths(
        pathsFile,
        [...ads].sort((a, b) => a - b),
        BENCH_SECRET,
        pathCount,
      );
      ctx.progress(
        `ingest: ${pathCount} signed click paths in ${Math.round(performance.now() - started)} ms`,
      );
      const load: WrkLoad = {
        pathsFile,
        pathCount,
        durationMs: plan.throughputMs,
        warmupMs,
        connections: plan.connections,
        timeoutMs: TIMEOUT_MS,
      };
      const bare = await startBareServer();
      baseline = await driveWithWrk(bare.url, load).finally(() => bare.stop());
      ctx.progress(`ingest: bare server (wrk) ${Math.round(baseline.answeredPerSecond)} req/s`);
      await sleep(plan.settleMs);
      for (const n of steps) {
        measured.push(await collectorStep(ctx, cluster.collectors.slice(0, n), load));
        await sleep(plan.settleMs);
      }
    }
    let latency: FixedRateRun | undefined;
    if (wants.latency) {
      const figures = await driveRequests(cluster.collectors[0]!.url, {
        nextPath: trackingPaths('click', ads, BENCH_SECRET),
        headerLines: BROWSER_HEADER,
        expectStatus: 302,
        rate: plan.latencyRate,
        durationMs: plan.latencyMs,
        connections: plan.connections,
        timeoutMs: TIMEOUT_MS,
        warmupMs: plan.warmupMs,
      });
      latency = { rate: plan.latencyRate, figures };
      ctx.progress(
        `latency: ${plan.latencyRate} clicks/s offered to one collector: p50 ${figures.p50.toFixed(2)} ms, ` +
          `p99 ${figures.p99.toFixed(2)} ms, ${Math.round(figures.answeredPerSecond)}/s answered, ${figures.failed} failed`,
      );
    }
    return { baseline, steps: measured, latency };
  } finally {
    await cluster.stop();
  }
}

/**
 * Each collector gets its own wrk (-t1, the connections split between them,
 * at least 16 each); the CPU of each collector and of the broker is read
 * just before and after its measured run (driveWithWrk's counter hooks). The
 * wrks walk the same paths file: a collector does not deduplicate (workers
 * do), so a click another collector also got costs it the same.
 */
async function collectorStep(
  ctx: ClusterContext,
  collectors: readonly AdtallyChild[],
  load: WrkLoad,
): Promise<CollectorStep> {
  const connections = Math.max(16, Math.floor(load.connections / collectors.length));
  let brokerBefore = 0;
  let brokerCpu = 0;
  const runs = await Promise.all(
    collectors.map(async (collector, i): Promise<CollectorRun> => {
      const pid = collector.child.pid!;
      let cpuBefore = 0;
      let cpu = 0;
      let calls = 0;
      const wrk = await driveWithWrk(collector.url, {
        ...load,
        connections,
        validClicks: async () => {
          const now = cpuSeconds(pid);
          if (calls++ === 0) cpuBefore = now;
          else cpu = now - cpuBefore;
          if (i === 0) {
            const broker = cpuSeconds(ctx.broker.pid);
            if (calls === 1) brokerBefore = broker;
            else brokerCpu = broker - brokerBefore;
          }
          return validClicks(collector.url);
        },
      });
      return { wrk, cpuSeconds: cpu };
    }),
  );
  const valid = runs.reduce((n, r) => n + (r.wrk.validClicks ?? 0), 0);
  const cpu = runs.reduce((n, r) => n + r.cpuSeconds, 0);
  const step: CollectorStep = {
    collectors: collectors.length,
    runs,
    clicksPerSecond: runs.reduce((n, r) => n + r.wrk.answeredPerSecond, 0),
    clicksPerCollectorCpuSecond: cpu === 0 ? 0 : valid / cpu,
    brokerCpuSeconds: brokerCpu,
    clicksPerBrokerCpuSecond: brokerCpu === 0 ? 0 : valid / brokerCpu,
  };
  ctx.progress(
    `ingest: ${step.collectors} collector(s): ${Math.round(step.clicksPerSecond)} clicks/s in all ` +
      `(${runs.map((r) => Math.round(r.wrk.answeredPerSecond)).join(' + ')}), ` +
      `${Math.round(step.clicksPerCollectorCpuSecond)} per collector CPU-second, ` +
      `${Math.round(step.clicksPerBrokerCpuSecond)} per broker CPU-second, p99 ${runs.map((r) => r.wrk.p99.toFixed(1)).join('/')} ms`,
  );
  return step;
}
