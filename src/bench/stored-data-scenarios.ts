import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseLoadgenOptions } from '../loadgen/loadgen-config.js';
import { runLoadgen, type LoadgenSummary } from '../loadgen/loadgen.js';
import { BENCH_ADMIN_TOKEN, BENCH_SECRET, freshDataDir, startAdtally } from './bench-servers.js';
import { replayAggregate, writeSyntheticLog, type ReplayResult } from './replay-aggregate.js';
import { replayArchive, type ArchiveReplayResult } from './replay-archive.js';
import { BROWSER_HEADER, driveRequests, trackingPaths, type LoadFigures } from './request-load.js';
import { sleep, type BenchContext } from './scenarios.js';
import { seedStore } from './seed-store.js';

export interface QueryRun {
  readonly queries: LoadFigures;
  readonly ingest: LoadFigures;
}

/**
 * `query`: 24-hour minute series of random ads at 200 queries/s, open loop,
 * while clicks are ingested at 10,000/s, on a store seeded with 10,000 ads x
 * 1,440 minutes. The seeded directory is shared by the runs.
 */
export async function query(ctx: BenchContext): Promise<QueryRun[]> {
  const { plan } = ctx;
  const dir = await freshDataDir();
  try {
    const seeding = performance.now();
    const { lastMinute } = await seedStore(join(dir, 'adtally.duckdb'), plan.queryAds, plan.queryMinutes);
    ctx.progress(
      `query: seeded ${plan.queryAds} ads x ${plan.queryMinutes} minutes in ${((performance.now() - seeding) / 1000).toFixed(0)} s`,
    );
    const from = new Date((lastMinute + 1 - plan.queryMinutes) * 60_000).toISOString();
    const to = new Date((lastMinute + 1) * 60_000).toISOString();
    const adIds = Array.from({ length: plan.queryAds }, (_, i) => i + 1);
    const runs: QueryRun[] = [];
    for (let run = 1; run <= plan.runs; run++) {
      const adtally = await startAdtally(dir);
      try {
        // Until the minute index has read the stored hours, series queries fall back to DuckDB.
        await adtally.waitForOutput(/minute index (loaded|off)/, 120_000);
        const ingest = driveRequests(adtally.url, {
          nextPath: trackingPaths('click', adIds, BENCH_SECRET),
          headerLines: BROWSER_HEADER,
          expectStatus: 302,
          rate: plan.queryIngestRate,
          durationMs: plan.queryMs + plan.warmupMs + plan.settleMs,
          connections: 256,
          timeoutMs: 10_000,
        });
        const queries = await driveRequests(adtally.url, {
          nextPath: () =>
            `/api/v1/ads/${1 + Math.floor(Math.random() * plan.queryAds)}/aggregates?from=${from}&to=${to}`,
          headerLines: `Authorization: Bearer ${BENCH_ADMIN_TOKEN}\r\n`,
          expectStatus: 200,
          rate: plan.queryRate,
          durationMs: plan.queryMs,
          connections: 16,
          timeoutMs: 10_000,
          warmupMs: plan.warmupMs,
        });
        const result = { queries, ingest: await ingest };
        ctx.progress(
          `query run ${run}: p50 ${queries.p50.toFixed(1)} ms, p99 ${queries.p99.toFixed(1)} ms ` +
            `with ${Math.round(result.ingest.answeredPerSecond)} clicks/s ingested`,
        );
        runs.push(result);
      } finally {
        await adtally.stop();
      }
      await sleep(ctx.plan.settleMs);
    }
    return runs;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `aggregate`: one stored log of synthetic events, replayed into a fresh store by each run. */
export async function aggregate(ctx: BenchContext): Promise<ReplayResult[]> {
  const stored = await writeSyntheticLog(ctx.plan.aggregateEvents);
  try {
    const runs: ReplayResult[] = [];
    for (let run = 1; run <= ctx.plan.runs; run++) {
      const result = await replayAggregate(stored);
      ctx.progress(
        `aggregate run ${run}: ${Math.round(result.eventsPerSecond)} events/s wall, ` +
          `${Math.round(result.eventsPerCpuSecond)} per CPU-second`,
      );
      runs.push(result);
    }
    return runs;
  } finally {
    await stored.dispose();
  }
}

/** `archive`: one stored log of synthetic events, copied into a fresh Parquet archive by each run. */
export async function archive(ctx: BenchContext): Promise<ArchiveReplayResult[]> {
  const stored = await writeSyntheticLog(ctx.plan.archiveEvents);
  try {
    const runs: ArchiveReplayResult[] = [];
    for (let run = 1; run <= ctx.plan.runs; run++) {
      const result = await replayArchive(stored);
      ctx.progress(
        `archive run ${run}: ${Math.round(result.eventsPerSecond)} events/s wall, ` +
          `${Math.round(result.eventsPerCpuSecond)} per CPU-second, ${result.bytesPerEvent.toFixed(1)} bytes/event ` +
          `in ${result.files} files`,
      );
      runs.push(result);
    }
    return runs;
  } finally {
    await stored.dispose();
  }
}

/** `exactness`: a loadgen run with every kind of invalid traffic and hot ads, checked against the query API. */
export async function exactness(ctx: BenchContext): Promise<LoadgenSummary> {
  const adtally = await startAdtally();
  try {
    const options = parseLoadgenOptions(
      [
        ...['--target', adtally.url, '--rate', String(ctx.plan.exactnessRate)],
        ...['--duration', `${ctx.plan.exactnessMs}ms`, '--ads', '200', '--zipf', '1.2', '--ctr', '0.2'],
        ...['--dup-rate', '0.08', '--bad-sig-rate', '0.03', '--expired-rate', '0.03'],
        ...['--bot-rate', '0.05', '--prefetch-rate', '0.03', '--late-rate', '0.05', '--quiet'],
      ],
      { ADTALLY_SECRET: BENCH_SECRET, ADTALLY_ADMIN_TOKEN: BENCH_ADMIN_TOKEN },
    );
    if (options === 'help') throw new Error('unreachable');
    const summary = await runLoadgen(options, ctx.progress);
    ctx.progress(
      `exactness: ${summary.answered} events over ${summary.check?.ads ?? 0} ads, exact: ${summary.exact}` +
        (summary.check?.reasons.length ? ` (${summary.check.reasons.join('; ')})` : ''),
    );
    return summary;
  } finally {
    await adtally.dispose();
  }
}
