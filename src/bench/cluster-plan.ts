/**
 * Sizes of `adtally bench --mode cluster` (the distributed mode of SPEC 5 on
 * this machine: a Kafka broker of scripts/services/kafka.sh, collectors,
 * workers and an api over the shared PostgreSQL and Redis). Every run is one
 * of each measurement, kept short so the whole mode takes a few minutes.
 */
export const CLUSTER_SCENARIOS = ['ingest', 'latency', 'freshness', 'aggregate', 'hot-ads'] as const;
export type ClusterScenarioName = (typeof CLUSTER_SCENARIOS)[number];

export interface ClusterPlan {
  readonly partitions: number;
  /** wrk saturation of the bare server and of each collector step (whole seconds). */
  readonly throughputMs: number;
  readonly warmupMs: number;
  readonly connections: number;
  /** Collector processes of the scaling steps, each driven by its own wrk at once. */
  readonly collectorSteps: readonly number[];
  /** Offered clicks/s of the fixed-rate latency run against one collector. */
  readonly latencyRate: number;
  readonly latencyMs: number;
  readonly freshnessSamples: number;
  readonly freshnessBackgroundRate: number;
  /** Events pre-filled into a topic for the drain of `aggregate` (1 worker, then 2). */
  readonly aggregateEvents: number;
  /** Events pre-filled per `hot-ads` variant, drained by 2 workers. */
  readonly hotEvents: number;
  /**
   * The rate the fill's collector is taken to receive (virtual clock of its hot ad
   * detector): hotness is judged per collector against 1,000 events/s.
   */
  readonly fillCollectorRate: number;
  readonly settleMs: number;
}

export const CLUSTER_FULL: ClusterPlan = {
  partitions: 6,
  throughputMs: 8_000,
  warmupMs: 1_000,
  connections: 64,
  collectorSteps: [1, 2, 4],
  latencyRate: 3_000,
  latencyMs: 8_000,
  freshnessSamples: 40,
  freshnessBackgroundRate: 1_000,
  aggregateEvents: 400_000,
  hotEvents: 200_000,
  fillCollectorRate: 5_000,
  settleMs: 1_000,
};

export const CLUSTER_QUICK: ClusterPlan = {
  ...CLUSTER_FULL,
  throughputMs: 2_000,
  collectorSteps: [1, 2],
  latencyMs: 2_000,
  freshnessSamples: 8,
  aggregateEvents: 30_000,
  hotEvents: 20_000,
  settleMs: 300,
};
