import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { AdtallyChild } from '../cluster/adtally-child.js';
import { ScriptedKafka } from '../cluster/local-cluster.js';
import { AdminClient } from '../loadgen/admin-client.js';
import { BENCH_ADMIN_TOKEN, BENCH_SECRET } from './bench-servers.js';

const POSTGRES_SERVER = 'postgres://postgres@127.0.0.1:5432';
const REDIS = 'redis://127.0.0.1:6379';

const TICKS_PER_SECOND = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User plus system CPU seconds a live process has used so far (Linux /proc). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** CPU seconds each of `pids` spends while `work` runs. */
export async function measureCpu<T>(
  pids: readonly number[],
  work: () => Promise<T>,
): Promise<{ value: T; cpu: number[] }> {
  const before = pids.map(cpuSeconds);
  const value = await work();
  return { value, cpu: pids.map((pid, i) => cpuSeconds(pid) - before[i]!) };
}

/** The one broker of a bench run (scripts/services/kafka.sh on a state dir of the run's). */
export class BenchBroker {
  private constructor(
    private readonly kafka: ScriptedKafka,
    readonly bootstrap: string,
    readonly pid: number,
  ) {}

  static async start(dir: string): Promise<BenchBroker> {
    const kafka = new ScriptedKafka(join(dir, 'kafka'));
    const bootstrap = await kafka.start();
    const pid = Number(readFileSync(join(kafka.stateDir, 'pid'), 'utf8').trim());
    return new BenchBroker(kafka, bootstrap, pid);
  }

  stop(): Promise<void> {
    return this.kafka.stop();
  }
}

export interface BenchClusterOptions {
  readonly partitions: number;
  /** The `spread` of the kafka:// URL (1 turns hot-ad salting off); the appender's default when absent. */
  readonly spread?: number;
  /** An existing topic to aggregate (a pre-filled one); a fresh one when absent. */
  readonly topic?: string;
}

/**
 * The processes of one measurement on the run's broker: a fresh PostgreSQL
 * database, Redis key prefix and (unless given) topic, so measurements never
 * see each other's data; adtally processes started one by one, by role.
 */
export class BenchCluster {
  readonly collectors: AdtallyChild[] = [];
  readonly workers: AdtallyChild[] = [];
  api: AdtallyChild | undefined;
  private serial = 0;

  private constructor(
    private readonly dir: string,
    readonly id: string,
    readonly topic: string,
    readonly logUrl: string,
    readonly storeUrl: string,
    readonly dedupPrefix: string,
  ) {}

  static async open(broker: BenchBroker, dir: string, options: BenchClusterOptions): Promise<BenchCluster> {
    const id = randomBytes(4).toString('hex');
    const database = `adtally_bench_${id}`;
    await adminQuery(`CREATE DATABASE ${database}`);
    const topic = options.topic ?? `adtally-bench-${id}`;
    const params = new URLSearchParams({ partitions: String(options.partitions) });
    if (options.spread !== undefined) params.set('spread', String(options.spread));
    return new BenchCluster(
      dir,
      id,
      topic,
      `kafka://${broker.bootstrap}/${topic}?${params.toString()}`,
      `${POSTGRES_SERVER}/${database}`,
      `adtally:bench-${id}`,
    );
  }

  /** Starts one more process of `role`; the api should come first (it makes the store's schema). */
  async spawn(role: 'collector' | 'worker' | 'api', extra: readonly string[] = []): Promise<AdtallyChild> {
    const name = `${role}-${++this.serial}`;
    const args = [role, '--data-dir', join(this.dir, this.id, name), '--log', this.logUrl];
    args.push('--store', this.storeUrl);
    if (role === 'worker') args.push('--dedup', `${REDIS}?prefix=${this.dedupPrefix}`);
    const child = await AdtallyChild.start(name, [...args, ...extra], clusterEnv());
    if (role === 'api') this.api = child;
    else (role === 'worker' ? this.workers : this.collectors).push(child);
    return child;
  }

  /** The api's admin client (the api must be running). */
  admin(): AdminClient {
    return new AdminClient(new URL(this.api!.url), BENCH_ADMIN_TOKEN);
  }

  /** Stops every process, drops the database and deletes the Redis keys (the shared servers stay clean). */
  async stop(): Promise<void> {
    await Promise.all(this.collectors.map((c) => c.stop()));
    await Promise.all(this.workers.map((w) => w.stop()));
    await this.api?.stop();
    await adminQuery(
      `DROP DATABASE IF EXISTS ${this.storeUrl.slice(POSTGRES_SERVER.length + 1)} WITH (FORCE)`,
    );
    await deleteKeys(`${this.dedupPrefix}:*`);
  }

  /** Each partition's committed offset (the next to aggregate) from the store's checkpoints. */
  async checkpoints(): Promise<Map<number, number>> {
    const client = new pg.Client({ connectionString: this.storeUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ consumer: string; log_offset: string }>(
        'SELECT consumer, log_offset FROM consumer_checkpoints WHERE starts_with(consumer, $1)',
        [`${this.topic}/`],
      );
      return new Map(
        rows.map((r) => [Number(r.consumer.slice(this.topic.length + 1)), Number(r.log_offset)]),
      );
    } finally {
      await client.end();
    }
  }
}

function clusterEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('ADTALLY_') && v !== undefined) env[k] = v;
  return { ...env, ADTALLY_SECRET: BENCH_SECRET, ADTALLY_ADMIN_TOKEN: BENCH_ADMIN_TOKEN };
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: `${POSTGRES_SERVER}/postgres` });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function deleteKeys(pattern: string): Promise<void> {
  const redis = new Redis(REDIS, { lazyConnect: true, maxRetriesPerRequest: 2 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** A counter of a process's /metrics (summed over its label sets that contain `labels`). */
export async function metricValue(
  url: string,
  name: string,
  labels: readonly string[] = [],
): Promise<number> {
  const res = await fetch(new URL('/metrics', url));
  if (!res.ok) throw new Error(`${url}/metrics answered ${res.status}`);
  let sum = 0;
  for (const line of (await res.text()).split('\n')) {
    if (!(line.startsWith(`${name} `) || line.startsWith(`${name}{`))) continue;
    if (!labels.every((l) => line.includes(l))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
