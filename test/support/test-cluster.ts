import { after, before } from 'node:test';
import { LocalCluster, type LocalClusterOptions } from '../../src/cluster/local-cluster.js';
import { parseLoadgenOptions, type LoadgenOptions } from '../../src/loadgen/loadgen-config.js';
import { runLoadgen, type LoadgenSummary } from '../../src/loadgen/loadgen.js';
import { makeDataDir, removeDir } from './adtally-process.js';

/**
 * A LocalCluster for one test file: started before its tests, stopped (its
 * database dropped, its directory removed) after them. `get()` returns it.
 */
export function clusterPerFile(
  prefix: string,
  options: Omit<LocalClusterOptions, 'dir'>,
): { get(): LocalCluster } {
  const dir = makeDataDir(`adtally-cluster-${prefix}-`);
  let cluster: LocalCluster | undefined;
  before(async () => {
    cluster = await LocalCluster.start({ dir, ...options });
  });
  after(async () => {
    await cluster?.stop();
    await cluster?.dropDatabase();
    removeDir(dir);
  });
  return {
    get() {
      if (cluster === undefined) throw new Error('the cluster did not start');
      return cluster;
    },
  };
}

/**
 * Runs loadgen against the cluster's load balancer with signed tokens, the
 * catalog wait a cluster needs and a patient settle; `args` adds the traffic
 * mix (rate, duration, invalid shares...).
 */
export function loadgenAgainst(cluster: LocalCluster, args: readonly string[]): Promise<LoadgenSummary> {
  const options: LoadgenOptions | 'help' = parseLoadgenOptions(
    [
      '--target',
      cluster.url,
      '--admin-token',
      cluster.adminToken,
      '--secret',
      cluster.secret,
      '--catalog-wait',
      '2s',
      '--settle-timeout',
      '120s',
      '--quiet',
      ...args,
    ],
    {},
  );
  if (options === 'help') throw new Error('loadgen options asked for help');
  return runLoadgen(options, () => undefined);
}

/** One line for a test's diagnostics. */
export function summaryLine(summary: LoadgenSummary): string {
  return `answered ${summary.answered}, unknown fate ${summary.unknown}, p99 ${summary.latencyMs.p99.toFixed(0)} ms, exact ${summary.exact}`;
}
