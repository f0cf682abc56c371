import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_SECRET, startAdtally, startBareServer } from './bench-servers.js';
import { AD_COUNT, ids, sleep, type BenchContext } from './scenarios.js';
import {
  driveWithWrk,
  ensureWrk,
  wrkSeconds,
  writeClickPaths,
  type WrkFigures,
  type WrkLoad,
} from './wrk-load.js';

/** `ingest-wrk`: both servers saturated by wrk, or why it could not run. */
export type WrkRuns =
  | { readonly skipped: string }
  | {
      /** Signed click paths in the file each run walks (a fresh adtally per run, so none is a duplicate). */
      readonly paths: number;
      readonly baseline: WrkFigures[];
      readonly ingest: WrkFigures[];
    };

/**
 * Paths per second of run in the file: above what wrk offers the bare server
 * on the 2-core machine (about 92k/s), five times what adtally answers, so a
 * run never sends a path twice. Repeats, if any, are counted and reported.
 */
const PATHS_PER_SECOND = 100_000;
const TIMEOUT_MS = 10_000;

/** The collector's valid clicks so far, from /metrics (the aggregator decides duplicates later). */
export async function validClicks(url: string): Promise<number> {
  const res = await fetch(new URL('/metrics', url));
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  const line = (await res.text())
    .split('\n')
    .find(
      (l) =>
        l.startsWith('adtally_ingest_events_total{') &&
        l.includes('type="click"') &&
        l.includes('outcome="ok"'),
    );
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/**
 * The saturation of `baseline` and `ingest-max` measured again with wrk
 * (C, one thread, 64 connections) as the client, run by run in turn, bare
 * server then a fresh adtally. A faster client raises the bare server's
 * ceiling; adtally, far below either client's ceiling, barely moves.
 */
export async function throughputWithWrk(ctx: BenchContext): Promise<WrkRuns> {
  const wrk = await ensureWrk();
  if (!wrk.ready) {
    ctx.progress(`ingest-wrk skipped: ${wrk.reason}`);
    return { skipped: wrk.reason };
  }
  const dir = await mkdtemp(join(tmpdir(), 'adtally-bench-wrk-'));
  try {
    return await alternate(ctx, dir);
  } catch (err) {
    // Minutes of other scenarios are worth more than this one: say why and go on.
    const reason = `wrk run failed: ${(err as Error).message.split('\n')[0]!}`;
    ctx.progress(`ingest-wrk skipped: ${reason}`);
    return { skipped: reason };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function alternate(ctx: BenchContext, dir: string): Promise<WrkRuns> {
  const { plan } = ctx;
  const warmupMs = plan.warmupMs > 0 ? wrkSeconds(plan.warmupMs) * 1_000 : 0;
  const pathCount = ((warmupMs + wrkSeconds(plan.throughputMs) * 1_000) / 1_000) * PATHS_PER_SECOND;
  const pathsFile = join(dir, 'click-paths.txt');
  let signedFor = '';
  const pathsFor = async (unordered: readonly number[]): Promise<void> => {
    // createAds makes them concurrently: the same ids, in any order.
    const ads = [...unordered].sort((a, b) => a - b);
    if (ads.join(',') === signedFor) return;
    const started = performance.now();
    await writeClickPaths(pathsFile, ads, BENCH_SECRET, pathCount);
    signedFor = ads.join(',');
    ctx.progress(
      `ingest-wrk: ${pathCount} signed click paths in ${Math.round(performance.now() - started)} ms`,
    );
  };
  const load: WrkLoad = {
    pathsFile,
    pathCount,
    durationMs: plan.throughputMs,
    warmupMs,
    connections: plan.connections,
    timeoutMs: TIMEOUT_MS,
  };
  const baseline: WrkFigures[] = [];
  const ingest: WrkFigures[] = [];
  // A fresh adtally numbers its ads from 1, like the bare server's: one file serves every run.
  await pathsFor(ids(AD_COUNT));
  for (let run = 1; run <= plan.runs; run++) {
    const bare = await startBareServer();
    baseline.push(await driveWithWrk(bare.url, load).finally(() => bare.stop()));
    ctx.progress(`baseline (wrk) run ${run}: ${Math.round(baseline.at(-1)!.answeredPerSecond)} req/s`);
    await sleep(plan.settleMs);
    const adtally = await startAdtally();
    try {
      await pathsFor((await adtally.admin.createAds(AD_COUNT, 'bench-wrk')).map((ad) => ad.id));
      ingest.push(await driveWithWrk(adtally.url, { ...load, validClicks: () => validClicks(adtally.url) }));
    } finally {
      await adtally.dispose();
    }
    const last = ingest.at(-1)!;
    ctx.progress(
      `ingest-max (wrk) run ${run}: ${Math.round(last.answeredPerSecond)} clicks/s, ` +
        `${last.validClicks} valid, ${last.repeatedPaths} repeated paths`,
    );
    await sleep(plan.settleMs);
  }
  return { paths: pathCount, baseline, ingest };
}
