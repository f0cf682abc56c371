import { join, resolve } from 'node:path';
import { LocalCluster } from './local-cluster.js';

/**
 * `npm run cluster`: a Kafka broker, 2 collectors, 2 workers and an api behind
 * a small load balancer, all on loopback (PostgreSQL and Redis must be
 * running, as on the dev machine). Prints the URLs; Ctrl-C stops everything.
 * Data under ./data/cluster (the broker's is kept between runs, each run gets
 * a fresh database and topic).
 */
async function main(): Promise<void> {
  const dir = resolve(process.env.ADTALLY_CLUSTER_DIR ?? './data/cluster');
  const verbose = process.argv.includes('--verbose');
  process.stdout.write(`cluster: starting in ${dir} (the first start fetches Kafka from Maven Central)\n`);
  const cluster = await LocalCluster.start({
    dir,
    // The workers archive to a path they and the api share, as a deployment would on shared storage.
    archive: true,
    ...(verbose ? { onLine: (line: string) => process.stdout.write(`  ${line}\n`) } : {}),
  });
  const lines = [
    `cluster: ready`,
    `  load balancer  ${cluster.url}   (tracking routes -> collectors, /api/ -> api)`,
    `  api            ${cluster.api!.url}`,
    ...cluster.collectors.map((c) => `  ${c.name.padEnd(14)} ${c.url}`),
    ...cluster.workers.map((w) => `  ${w.name.padEnd(14)} ${w.url}   (/metrics, /readyz)`),
    `  kafka          ${cluster.bootstrap}   ${cluster.urls.log}`,
    `  postgres       ${cluster.urls.store}`,
    `  redis          ${cluster.urls.dedup}`,
    `  archive        ${join(dir, 'archive')}   (hourly Parquet; SQL and export on the api)`,
    `  admin token    ${cluster.adminToken}`,
    `  secret         ${cluster.secret}`,
    ``,
    `try: npx adtally loadgen --target ${cluster.url} --admin-token ${cluster.adminToken} --rate 500 --duration 20s`,
    `Ctrl-C stops everything.`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  process.stdout.write('cluster: stopping\n');
  await cluster.stop();
  process.stdout.write('cluster: stopped\n');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`cluster: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
