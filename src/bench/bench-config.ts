import {
  ConfigError,
  durationSetting,
  helpLines,
  positiveIntSetting,
  readCommandLine,
  stringSetting,
} from '../config/settings.js';
import {
  CLUSTER_FULL,
  CLUSTER_QUICK,
  CLUSTER_SCENARIOS,
  type ClusterPlan,
  type ClusterScenarioName,
} from './cluster-plan.js';

export const SCENARIOS = [
  'baseline',
  'ingest-max',
  'ingest-wrk',
  'latency-10k',
  'freshness',
  'query',
  'postgres-series',
  'aggregate',
  'archive',
  'direct-db',
  'exactness',
  'reconcile',
  'sql',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** Sizes and durations of one benchmark run; `--quick` shrinks every one. */
export interface BenchPlan {
  /** Runs of each measured scenario; figures are their medians. */
  readonly runs: number;
  /**
   * Closed-loop saturation (baseline, ingest-max, ingest-wrk: wrk rounds it to
   * whole seconds) and the 10k clicks/s latency run.
   */
  readonly throughputMs: number;
  readonly connections: number;
  /** Offered rates of the latency-against-rate chart, bare and adtally. */
  readonly sweepRates: readonly number[];
  readonly sweepMs: number;
  readonly latencyRate: number;
  readonly freshnessSamples: number;
  readonly freshnessBackgroundRate: number;
  readonly queryAds: number;
  readonly queryMinutes: number;
  readonly queryRate: number;
  readonly queryIngestRate: number;
  readonly queryMs: number;
  readonly aggregateEvents: number;
  /** Events of the hour the `reconcile` scenario archives and reconciles. */
  readonly reconcileEvents: number;
  /** Events of the stored log the `archive` scenario writes to Parquet. */
  readonly archiveEvents: number;
  readonly directDbRequests: number;
  readonly directDbConnections: number;
  readonly exactnessMs: number;
  readonly exactnessRate: number;
  /** Load sent to a fresh server before measuring, not counted. */
  readonly warmupMs: number;
  /** Quiet between runs, so one run's backlog (fsyncs, commits) does not bill the next. */
  readonly settleMs: number;
}

const FULL: BenchPlan = {
  runs: 3,
  throughputMs: 10_000,
  connections: 64,
  sweepRates: [2_000, 5_000, 10_000, 15_000, 20_000],
  sweepMs: 6_000,
  latencyRate: 10_000,
  freshnessSamples: 60,
  freshnessBackgroundRate: 5_000,
  queryAds: 10_000,
  queryMinutes: 1_440,
  queryRate: 200,
  queryIngestRate: 10_000,
  queryMs: 15_000,
  aggregateEvents: 5_000_000,
  reconcileEvents: 1_000_000,
  archiveEvents: 2_000_000,
  directDbRequests: 30_000,
  directDbConnections: 100,
  exactnessMs: 60_000,
  exactnessRate: 2_000,
  warmupMs: 2_000,
  settleMs: 1_000,
};

const QUICK: BenchPlan = {
  ...FULL,
  runs: 1,
  throughputMs: 3_000,
  sweepRates: [5_000, 10_000],
  sweepMs: 2_000,
  freshnessSamples: 15,
  queryAds: 1_000,
  queryMs: 3_000,
  aggregateEvents: 200_000,
  reconcileEvents: 100_000,
  archiveEvents: 200_000,
  directDbRequests: 3_000,
  exactnessMs: 10_000,
  exactnessRate: 1_000,
  warmupMs: 1_000,
  settleMs: 500,
};

export interface BenchOptions {
  /** `serve` (the single process, SPEC 6) or `cluster` (collectors, workers and api over Kafka). */
  readonly mode: 'serve' | 'cluster';
  readonly quick: boolean;
  readonly plan: BenchPlan;
  readonly scenarios: readonly ScenarioName[];
  readonly clusterPlan: ClusterPlan;
  readonly clusterScenarios: readonly ClusterScenarioName[];
  readonly resultsDir: string;
  /** Where to write the report; undefined writes none (the default of --quick). */
  readonly docsPath: string | undefined;
  readonly databaseUrl: string;
  /** Run nothing: rewrite the report from this saved result (after editing the notes, say). */
  readonly reportFrom: string | undefined;
}

const SETTINGS = {
  mode: stringSetting(
    'mode',
    '',
    'serve (default: one adtally serve) or cluster (collectors, workers and api over Kafka)',
    'MODE',
  ),
  duration: durationSetting(
    'duration',
    '',
    'length of every timed run (default 10s; --quick 3s; exactness 60s)',
  ),
  runs: positiveIntSetting('runs', '', 'runs per scenario, figures are medians (default 3; --quick 1)'),
  only: stringSetting(
    'only',
    '',
    `comma-separated scenarios to run (${SCENARIOS.join(', ')}; cluster: ${CLUSTER_SCENARIOS.join(', ')})`,
    'LIST',
  ),
  resultsDir: stringSetting('results-dir', '', 'where the JSON result goes (default bench/results)', 'DIR'),
  docs: stringSetting(
    'docs',
    '',
    'report to (re)write (default docs/BENCHMARKS.md, cluster docs/BENCHMARKS-CLUSTER.md; none with --quick or --only)',
    'FILE',
  ),
  reportFrom: stringSetting(
    'report-from',
    '',
    'run nothing; rewrite the report from a saved result JSON',
    'FILE',
  ),
  databaseUrl: stringSetting(
    'database-url',
    '',
    'PostgreSQL of the direct-db reference (default postgres://postgres@127.0.0.1:5432/postgres)',
    'URL',
  ),
};
const SWITCHES = { quick: 'every scenario shortened, about 2 minutes in all' };

export function benchHelp(): string {
  return [
    'usage: adtally bench [options]',
    '',
    'Runs the benchmark scenarios of SPEC 6 on this machine against fresh data',
    'directories, writes bench/results/<date>-<commit>.json and regenerates the report.',
    '',
    'options:',
    ...helpLines(SETTINGS, SWITCHES),
  ].join('\n');
}

function parseScenarios(raw: string | undefined): ScenarioName[] {
  if (raw === undefined) return [...SCENARIOS];
  const names = raw.split(',').map((s) => s.trim());
  for (const name of names) {
    if (!(SCENARIOS as readonly string[]).includes(name)) {
      throw new ConfigError(`--only: unknown scenario "${name}" (known: ${SCENARIOS.join(', ')})`);
    }
  }
  // ingest-max is reported as a ratio to baseline: one never runs without the other.
  const wanted = new Set(names);
  if (wanted.has('ingest-max')) wanted.add('baseline');
  return SCENARIOS.filter((s) => wanted.has(s));
}

function parseClusterScenarios(raw: string | undefined): ClusterScenarioName[] {
  if (raw === undefined) return [...CLUSTER_SCENARIOS];
  const names = new Set(raw.split(',').map((s) => s.trim()));
  for (const name of names) {
    if (!(CLUSTER_SCENARIOS as readonly string[]).includes(name)) {
      throw new ConfigError(
        `--only: unknown cluster scenario "${name}" (known: ${CLUSTER_SCENARIOS.join(', ')})`,
      );
    }
  }
  return CLUSTER_SCENARIOS.filter((s) => names.has(s));
}

export function parseBenchOptions(argv: readonly string[]): BenchOptions | 'help' {
  const { help, values, switches } = readCommandLine(argv, SETTINGS, { switches: Object.keys(SWITCHES) });
  if (help) return 'help';
  const quick = switches.has('quick');
  const mode = values.mode ?? 'serve';
  if (mode !== 'serve' && mode !== 'cluster') {
    throw new ConfigError(`--mode: "${mode}" is not serve or cluster`);
  }
  const base = quick ? QUICK : FULL;
  const duration = values.duration;
  const plan: BenchPlan = {
    ...base,
    runs: values.runs ?? base.runs,
    ...(duration === undefined
      ? {}
      : {
          throughputMs: duration,
          sweepMs: duration,
          queryMs: duration,
          exactnessMs: Math.max(duration, 1_000),
          freshnessSamples: Math.min(base.freshnessSamples, Math.max(3, Math.round(duration / 300))),
          settleMs: Math.min(base.settleMs, duration),
          warmupMs: Math.min(base.warmupMs, duration),
        }),
  };
  const databaseUrl = values.databaseUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(`--database-url: "${databaseUrl}" is not a postgres:// URL`);
  }
  const cluster = mode === 'cluster';
  const clusterBase = quick ? CLUSTER_QUICK : CLUSTER_FULL;
  const clusterPlan: ClusterPlan =
    duration === undefined
      ? clusterBase
      : { ...clusterBase, throughputMs: duration, latencyMs: duration, warmupMs: Math.min(1_000, duration) };
  // A partial run must not replace the full report.
  const defaultDocs = cluster ? 'docs/BENCHMARKS-CLUSTER.md' : 'docs/BENCHMARKS.md';
  return {
    mode,
    quick,
    plan,
    scenarios: cluster ? [] : parseScenarios(values.only),
    clusterPlan,
    clusterScenarios: cluster ? parseClusterScenarios(values.only) : [],
    resultsDir: values.resultsDir ?? 'bench/results',
    docsPath: values.docs ?? (quick || values.only !== undefined ? undefined : defaultDocs),
    databaseUrl,
    reportFrom: values.reportFrom,
  };
}
