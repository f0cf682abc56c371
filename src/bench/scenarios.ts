import { HttpLoadClient } from '../loadgen/http-load-client.js';
import { LatencyHistogram } from '../loadgen/latency-histogram.js';
import type { BenchPlan } from './bench-config.js';
import {
  BENCH_ADMIN_TOKEN,
  BENCH_SECRET,
  startAdtally,
  startBareServer,
  startDirectDbServer,
} from './bench-servers.js';
import type { ChildServer } from './child-server.js';
import { BROWSER_HEADER, driveRequests, trackingPaths, type LoadFigures } from './request-load.js';

export interface BenchContext {
  readonly plan: BenchPlan;
  readonly databaseUrl: string;
  readonly progress: (line: string) => void;
}

export const AD_COUNT = 100;
const TIMEOUT_MS = 10_000;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
export const ids = (n: number, from = 1): number[] => Array.from({ length: n }, (_, i) => from + i);

/** Valid clicks with every connection busy: the saturated throughput of one server. */
function saturate(url: string, adIds: readonly number[], plan: BenchPlan): Promise<LoadFigures> {
  return driveRequests(url, {
    nextPath: trackingPaths('click', adIds, BENCH_SECRET),
    headerLines: BROWSER_HEADER,
    expectStatus: 302,
    rate: 'max',
    durationMs: plan.throughputMs,
    connections: plan.connections,
    timeoutMs: TIMEOUT_MS,
    warmupMs: plan.warmupMs,
  });
}

function offer(
  url: string,
  adIds: readonly number[],
  rate: number,
  durationMs: number,
  warmupMs: number,
): Promise<LoadFigures> {
  return driveRequests(url, {
    nextPath: trackingPaths('click', adIds, BENCH_SECRET),
    headerLines: BROWSER_HEADER,
    expectStatus: 302,
    rate,
    durationMs,
    connections: 256,
    timeoutMs: TIMEOUT_MS,
    warmupMs,
  });
}

/**
 * `baseline` and `ingest-max`, run by run in turn so both see the machine in
 * the same state: the bare node:http server, then a fresh `adtally serve`
 * (fsync before every 302, aggregation running), both saturated alike.
 */
export async function throughput(
  ctx: BenchContext,
): Promise<{ baseline: LoadFigures[]; ingest: LoadFigures[] }> {
  const baseline: LoadFigures[] = [];
  const ingest: LoadFigures[] = [];
  for (let run = 1; run <= ctx.plan.runs; run++) {
    const bare = await startBareServer();
    baseline.push(await saturate(bare.url, ids(AD_COUNT), ctx.plan).finally(() => bare.stop()));
    ctx.progress(`baseline run ${run}: ${Math.round(baseline.at(-1)!.answeredPerSecond)} req/s`);
    await sleep(ctx.plan.settleMs);
    const adtally = await startAdtally();
    const ads = (await adtally.admin.createAds(AD_COUNT, 'bench')).map((ad) => ad.id);
    ingest.push(await saturate(adtally.url, ads, ctx.plan).finally(() => adtally.dispose()));
    ctx.progress(`ingest-max run ${run}: ${Math.round(ingest.at(-1)!.answeredPerSecond)} clicks/s`);
    await sleep(ctx.plan.settleMs);
  }
  return { baseline, ingest };
}

export interface SweepPoint {
  readonly rate: number;
  readonly figures: LoadFigures;
}

/** Latency against offered rate, open loop, for the chart: bare server and adtally, one server each. */
export async function latencySweep(
  ctx: BenchContext,
): Promise<{ bare: SweepPoint[]; adtally: SweepPoint[] }> {
  const sweep = async (server: ChildServer, ads: readonly number[], name: string): Promise<SweepPoint[]> => {
    const points: SweepPoint[] = [];
    for (const rate of ctx.plan.sweepRates) {
      const figures = await offer(server.url, ads, rate, ctx.plan.sweepMs, ctx.plan.warmupMs);
      ctx.progress(
        `sweep ${name} ${rate}/s: p99 ${figures.p99.toFixed(2)} ms, ${Math.round(figures.answeredPerSecond)}/s answered`,
      );
      points.push({ rate, figures });
      await sleep(ctx.plan.settleMs);
    }
    return points;
  };
  const bareServer = await startBareServer();
  const bare = await sweep(bareServer, ids(AD_COUNT), 'bare').finally(() => bareServer.stop());
  const adtallyServer = await startAdtally();
  const ads = (await adtallyServer.admin.createAds(AD_COUNT, 'sweep')).map((ad) => ad.id);
  const adtally = await sweep(adtallyServer, ads, 'adtally').finally(() => adtallyServer.dispose());
  return { bare, adtally };
}

/** `latency-10k`: /click latency at 10,000 clicks/s offered, open loop, on a fresh adtally per run. */
export async function latencyAtRate(ctx: BenchContext): Promise<LoadFigures[]> {
  const runs: LoadFigures[] = [];
  for (let run = 1; run <= ctx.plan.runs; run++) {
    const adtally = await startAdtally();
    const ads = (await adtally.admin.createAds(AD_COUNT, 'latency')).map((ad) => ad.id);
    const figures = await offer(
      adtally.url,
      ads,
      ctx.plan.latencyRate,
      ctx.plan.throughputMs,
      ctx.plan.warmupMs,
    ).finally(() => adtally.dispose());
    ctx.progress(
      `latency-10k run ${run}: p50 ${figures.p50.toFixed(2)} ms, p99 ${figures.p99.toFixed(2)} ms, ` +
        `${Math.round(figures.answeredPerSecond)}/s answered`,
    );
    runs.push(figures);
    await sleep(ctx.plan.settleMs);
  }
  return runs;
}

export interface FreshnessRun {
  readonly samples: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly backgroundPerSecond: number;
}

/**
 * `freshness`: while background clicks flow at a steady rate, sends one
 * click on a probe ad and polls its aggregates every 5 ms; the sample is
 * the time from the 302 to the first answer that counts it.
 */
export async function freshness(ctx: BenchContext): Promise<FreshnessRun[]> {
  const runs: FreshnessRun[] = [];
  for (let run = 1; run <= ctx.plan.runs; run++) {
    const adtally = await startAdtally();
    try {
      const ads = (await adtally.admin.createAds(AD_COUNT + 1, 'fresh')).map((ad) => ad.id);
      const probe = ads.pop()!;
      const backgroundMs = ctx.plan.freshnessSamples * 300 + 2 * ctx.plan.settleMs;
      const background = offer(adtally.url, ads, ctx.plan.freshnessBackgroundRate, backgroundMs, 0);
      const samples = await probeFreshness(
        adtally.url,
        probe,
        ctx.plan.freshnessSamples,
        backgroundMs - 1_000,
      );
      const load = await background;
      const figures: FreshnessRun = {
        samples: samples.count,
        p50: samples.percentile(50),
        p99: samples.percentile(99),
        max: samples.max,
        backgroundPerSecond: load.answeredPerSecond,
      };
      ctx.progress(
        `freshness run ${run}: p50 ${figures.p50.toFixed(0)} ms, p99 ${figures.p99.toFixed(0)} ms over ${figures.samples} clicks`,
      );
      runs.push(figures);
    } finally {
      await adtally.dispose();
    }
    await sleep(ctx.plan.settleMs);
  }
  return runs;
}

/**
 * Freshness samples: clicks on `ad` sent to `url`, its aggregates polled at
 * `apiUrl` (the same server for `serve`; the api process of a cluster).
 */
export async function probeFreshness(
  url: string,
  ad: number,
  samples: number,
  budgetMs: number,
  apiUrl = url,
): Promise<LatencyHistogram> {
  const clientOf = (at: string): HttpLoadClient => {
    const target = new URL(at);
    return new HttpLoadClient({
      host: target.hostname,
      port: Number(target.port),
      connections: 2,
      timeoutMs: TIMEOUT_MS,
    });
  };
  const client = clientOf(url);
  const api = apiUrl === url ? client : clientOf(apiUrl);
  const auth = `Authorization: Bearer ${BENCH_ADMIN_TOKEN}\r\n`;
  const clicks = trackingPaths('click', [ad], BENCH_SECRET);
  const counted = async (): Promise<number> => {
    const res = await api.request('GET', `/api/v1/ads/${ad}/aggregates`, auth);
    if (res.status !== 200) throw new Error(`aggregates answered ${res.status}`);
    return (JSON.parse(res.body.toString('utf8')) as { totals: { clicks: number } }).totals.clicks;
  };
  const histogram = new LatencyHistogram();
  const deadline = performance.now() + budgetMs;
  try {
    while (histogram.count < samples && performance.now() < deadline) {
      const before = await counted();
      const click = await client.request('GET', clicks(), BROWSER_HEADER);
      if (click.status !== 302) throw new Error(`probe click answered ${click.status}`);
      for (;;) {
        const poll = performance.now();
        if ((await counted()) > before) {
          histogram.record(performance.now() - click.answeredAt);
          break;
        }
        await sleep(Math.max(0, 5 - (performance.now() - poll)));
      }
    }
  } finally {
    client.close();
    if (api !== client) api.close();
  }
  return histogram;
}

export interface DirectDbRun {
  readonly directDb: LoadFigures;
  readonly adtally: LoadFigures;
}

/**
 * `direct-db`: the same number of impressions through 100 connections
 * against the INSERT-per-request reference and against adtally. A request
 * not answered within 2 s counts as failed, as a browser would give up.
 */
export async function directDb(ctx: BenchContext): Promise<DirectDbRun[]> {
  const load = (url: string, adIds: readonly number[]): Promise<LoadFigures> =>
    driveRequests(url, {
      nextPath: trackingPaths('impression', adIds, BENCH_SECRET),
      headerLines: BROWSER_HEADER,
      expectStatus: 200,
      rate: 'max',
      requests: ctx.plan.directDbRequests,
      connections: ctx.plan.directDbConnections,
      timeoutMs: 2_000,
      warmupMs: ctx.plan.warmupMs,
    });
  const runs: DirectDbRun[] = [];
  for (let run = 1; run <= ctx.plan.runs; run++) {
    const reference = await startDirectDbServer(ctx.databaseUrl);
    const direct = await load(reference.url, ids(AD_COUNT)).finally(() => reference.stop());
    await sleep(ctx.plan.settleMs);
    const adtally = await startAdtally();
    const ads = (await adtally.admin.createAds(AD_COUNT, 'direct')).map((ad) => ad.id);
    const ours = await load(adtally.url, ads).finally(() => adtally.dispose());
    ctx.progress(
      `direct-db run ${run}: PostgreSQL ${Math.round(direct.answeredPerSecond)}/s p99 ${direct.p99.toFixed(1)} ms ` +
        `failed ${direct.failed}; adtally ${Math.round(ours.answeredPerSecond)}/s p99 ${ours.p99.toFixed(1)} ms failed ${ours.failed}`,
    );
    runs.push({ directDb: direct, adtally: ours });
    await sleep(ctx.plan.settleMs);
  }
  return runs;
}
