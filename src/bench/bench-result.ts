import { cpus, release, totalmem } from 'node:os';
import type { LoadgenSummary } from '../loadgen/loadgen.js';
import type { ReplayResult } from './replay-aggregate.js';
import type { ArchiveReplayResult } from './replay-archive.js';
import type { LoadFigures } from './request-load.js';
import type { PostgresSeriesResult } from './postgres-series-scenario.js';
import type { DirectDbRun, FreshnessRun, SweepPoint } from './scenarios.js';
import type { SqlRun } from './sql-scenario.js';
import type { QueryRun } from './stored-data-scenarios.js';
import type { ReconcileBenchRun } from './reconcile-scenario.js';
import type { WrkRuns } from './wrk-scenario.js';

/** What each scenario measured, run by run; absent when the scenario was not run. */
export interface ScenarioRuns {
  baseline?: LoadFigures[];
  ingest?: LoadFigures[];
  /** `ingest-wrk`: baseline and ingest-max again with wrk as the client, or why not. */
  wrk?: WrkRuns;
  sweep?: { bare: SweepPoint[]; adtally: SweepPoint[] };
  latency10k?: LoadFigures[];
  freshness?: FreshnessRun[];
  query?: QueryRun[];
  /** `postgres-series`: the 24 h series through PostgresAggregateStore, or why it was skipped. */
  postgresSeries?: PostgresSeriesResult;
  aggregate?: ReplayResult[];
  archive?: ArchiveReplayResult[];
  directDb?: DirectDbRun[];
  exactness?: LoadgenSummary;
  reconcile?: ReconcileBenchRun[];
  /** `sql`: a day's minutes of one campaign through POST /api/v1/sql. */
  sql?: SqlRun[];
}

export interface MachineFacts {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly os: string;
}

/** The headline figures (numbers, `exact` a boolean); null for scenarios not run. */
export interface Headline {
  baseline_rps: number | null;
  ingest_rps: number | null;
  ingest_ratio: number | null;
  /** The same saturation with wrk as the client (ingest-wrk); null when not run or skipped. */
  baseline_rps_wrk: number | null;
  ingest_rps_wrk: number | null;
  ingest_ratio_wrk: number | null;
  click_p99_ms_at_10k: number | null;
  freshness_p99_ms: number | null;
  query_p99_ms: number | null;
  aggregate_eps_per_core: number | null;
  /** `archive`: events/s written to Parquet (wall), and Parquet bytes per event. */
  archive_eps: number | null;
  archive_bytes_per_event: number | null;
  direct_db_failure_rate: number | null;
  adtally_failure_rate: number | null;
  exact: boolean | null;
  /** `reconcile`: seconds of the whole job per million archived events of the hour. */
  reconcile_s_per_million: number | null;
}

export interface BenchResult extends Headline {
  readonly date: string;
  readonly commit: string;
  readonly quick: boolean;
  readonly runs: number;
  readonly durationSeconds: number;
  readonly machine: MachineFacts;
  readonly scenarios: ScenarioRuns;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const medianOf = <T>(runs: readonly T[] | undefined, pick: (run: T) => number): number | null =>
  runs === undefined || runs.length === 0 ? null : round(median(runs.map(pick)));

const round = (v: number): number => Math.round(v * 1000) / 1000;
const ratio = (part: number | null, whole: number | null): number | null =>
  part === null || whole === null || whole === 0 ? null : round(part / whole);

/** Failed over sent, across every run: a rate of rare events is better pooled than a median. */
function pooledFailureRate(runs: readonly LoadFigures[]): number {
  const sent = runs.reduce((n, r) => n + r.sent, 0);
  return sent === 0 ? 0 : round(runs.reduce((n, r) => n + r.failed, 0) / sent);
}

export function headline(s: ScenarioRuns): Headline {
  const baseline = medianOf(s.baseline, (r) => r.answeredPerSecond);
  const ingest = medianOf(s.ingest, (r) => r.answeredPerSecond);
  const wrk = s.wrk === undefined || 'skipped' in s.wrk ? undefined : s.wrk;
  const baselineWrk = medianOf(wrk?.baseline, (r) => r.answeredPerSecond);
  const ingestWrk = medianOf(wrk?.ingest, (r) => r.answeredPerSecond);
  return {
    baseline_rps: baseline,
    ingest_rps: ingest,
    ingest_ratio: ratio(ingest, baseline),
    baseline_rps_wrk: baselineWrk,
    ingest_rps_wrk: ingestWrk,
    ingest_ratio_wrk: ratio(ingestWrk, baselineWrk),
    click_p99_ms_at_10k: medianOf(s.latency10k, (r) => r.p99),
    freshness_p99_ms: medianOf(s.freshness, (r) => r.p99),
    query_p99_ms: medianOf(s.query, (r) => r.queries.p99),
    aggregate_eps_per_core: medianOf(s.aggregate, (r) => r.eventsPerCpuSecond),
    archive_eps: medianOf(s.archive, (r) => r.eventsPerSecond),
    archive_bytes_per_event: medianOf(s.archive, (r) => r.bytesPerEvent),
    direct_db_failure_rate:
      s.directDb === undefined ? null : pooledFailureRate(s.directDb.map((r) => r.directDb)),
    adtally_failure_rate:
      s.directDb === undefined ? null : pooledFailureRate(s.directDb.map((r) => r.adtally)),
    exact: s.exactness === undefined ? null : s.exactness.exact,
    reconcile_s_per_million: medianOf(s.reconcile, (r) => r.secondsPerMillion),
  };
}

export function machineFacts(): MachineFacts {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    os: `${process.platform} ${release()}`,
  };
}
