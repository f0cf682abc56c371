import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import pg from 'pg';
import { ConfigError } from '../config/settings.js';
import type { BenchOptions, ScenarioName } from './bench-config.js';
import { benchmarksMarkdown, latencyChart } from './bench-report.js';
import { headline, machineFacts, type BenchResult, type ScenarioRuns } from './bench-result.js';
import { runClusterBench, type ClusterBenchResult } from './cluster-bench.js';
import { clusterMarkdown } from './cluster-report.js';
import {
  directDb,
  freshness,
  latencyAtRate,
  latencySweep,
  throughput,
  type BenchContext,
} from './scenarios.js';
import { postgresSeries } from './postgres-series-scenario.js';
import { sqlLatency } from './sql-scenario.js';
import { aggregate, archive, exactness, query } from './stored-data-scenarios.js';
import { reconcileBench } from './reconcile-scenario.js';
import { throughputWithWrk } from './wrk-scenario.js';

function currentCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return 'unknown';
  }
}

/** Fails fast, before minutes of other scenarios, when the reference database is unreachable. */
async function checkDatabase(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    throw new Error(
      `direct-db needs PostgreSQL at ${databaseUrl}: ${(err as Error).message} ` +
        '(start it with scripts/services/start-postgres.sh, or leave direct-db out with --only)',
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs the chosen scenarios in order and assembles the result. */
export async function runBench(
  options: BenchOptions,
  progress: (line: string) => void,
): Promise<BenchResult | ClusterBenchResult> {
  if (options.mode === 'cluster') {
    return runClusterBench(
      {
        plan: options.clusterPlan,
        scenarios: options.clusterScenarios,
        quick: options.quick,
        commit: currentCommit(),
      },
      progress,
    );
  }
  const wants = (name: ScenarioName): boolean => options.scenarios.includes(name);
  if (wants('direct-db')) await checkDatabase(options.databaseUrl);
  const ctx: BenchContext = { plan: options.plan, databaseUrl: options.databaseUrl, progress };
  const started = performance.now();
  const s: ScenarioRuns = {};
  if (wants('baseline')) {
    const { baseline, ingest } = await throughput(ctx);
    s.baseline = baseline;
    if (wants('ingest-max')) s.ingest = ingest;
  }
  if (wants('ingest-wrk')) s.wrk = await throughputWithWrk(ctx);
  if (wants('latency-10k')) {
    s.latency10k = await latencyAtRate(ctx);
    s.sweep = await latencySweep(ctx);
  }
  if (wants('freshness')) s.freshness = await freshness(ctx);
  if (wants('query')) s.query = await query(ctx);
  if (wants('postgres-series')) s.postgresSeries = await postgresSeries(ctx);
  if (wants('aggregate')) s.aggregate = await aggregate(ctx);
  if (wants('archive')) s.archive = await archive(ctx);
  if (wants('direct-db')) s.directDb = await directDb(ctx);
  if (wants('exactness')) s.exactness = await exactness(ctx);
  if (wants('reconcile')) s.reconcile = await reconcileBench(ctx);
  if (wants('sql')) s.sql = await sqlLatency(ctx);
  return {
    ...headline(s),
    date: new Date().toISOString(),
    commit: currentCommit(),
    quick: options.quick,
    runs: options.plan.runs,
    durationSeconds: (performance.now() - started) / 1000,
    machine: machineFacts(),
    scenarios: s,
  };
}

/** Writes the report and its chart from a saved result; returns the report's path. */
export async function rewriteReport(resultFile: string, docsPath: string): Promise<string> {
  let result: BenchResult | ClusterBenchResult;
  try {
    result = JSON.parse(await readFile(resultFile, 'utf8')) as BenchResult | ClusterBenchResult;
  } catch (err) {
    throw new ConfigError(`--report-from: cannot read ${resultFile}: ${(err as Error).message}`);
  }
  if ('mode' in result && docsPath === 'docs/BENCHMARKS.md') {
    throw new ConfigError(
      `--report-from: ${resultFile} is a cluster result: add --mode cluster (or --docs FILE)`,
    );
  }
  await writeReport(result, docsPath);
  return docsPath;
}

async function writeReport(result: BenchResult | ClusterBenchResult, docsPath: string): Promise<void> {
  const docsDir = dirname(docsPath);
  await mkdir(docsDir, { recursive: true });
  if ('mode' in result) {
    await writeFile(docsPath, clusterMarkdown(result));
    return;
  }
  const chart = latencyChart(result);
  const chartFile =
    chart === undefined ? undefined : `${basename(docsPath, '.md').toLowerCase()}-latency.svg`;
  if (chart !== undefined) await writeFile(join(docsDir, chartFile!), chart);
  const notes = await readFile(join(docsDir, 'benchmark-notes.md'), 'utf8').catch(() => '');
  await writeFile(docsPath, benchmarksMarkdown(result, chartFile, notes));
}

/** Writes bench/results/<date>-<commit>.json and, when asked, the report with its chart beside it. */
export async function writeBenchOutputs(
  result: BenchResult | ClusterBenchResult,
  options: BenchOptions,
): Promise<{ resultFile: string; docsFile: string | undefined }> {
  await mkdir(options.resultsDir, { recursive: true });
  const resultFile = join(
    options.resultsDir,
    `${result.date.slice(0, 10)}-${result.commit}${'mode' in result ? '-cluster' : ''}${result.quick ? '-quick' : ''}.json`,
  );
  await writeFile(resultFile, `${JSON.stringify(result, null, 2)}\n`);
  if (options.docsPath === undefined) return { resultFile, docsFile: undefined };
  await writeReport(result, options.docsPath);
  return { resultFile, docsFile: options.docsPath };
}
