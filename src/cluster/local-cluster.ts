import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { AdtallyChild } from './adtally-child.js';
import { FrontProxy } from './front-proxy.js';

const run = promisify(execFile);
const KAFKA_SCRIPT = resolve(import.meta.dirname, '../../../scripts/services/kafka.sh');

export interface LocalClusterOptions {
  /** Where the broker's data and each process's data dir go. */
  readonly dir: string;
  readonly collectors?: number;
  readonly workers?: number;
  readonly partitions?: number;
  /** A running broker to use instead of starting one (`host:port`). */
  readonly kafka?: string;
  /** PostgreSQL server (default postgres://postgres@127.0.0.1:5432); a fresh database is made on it. */
  readonly postgresServer?: string;
  readonly redis?: string;
  readonly secret?: string;
  readonly adminToken?: string;
  /** Extra flags per role, e.g. a short session timeout for tests. */
  readonly args?: { readonly collector?: string[]; readonly worker?: string[]; readonly api?: string[] };
  /** Workers archive to `<dir>/archive`, which the api reads for SQL and export (off by default: tests). */
  readonly archive?: boolean;
  readonly env?: Record<string, string>;
  /** Each process's output lines, prefixed with its name (npm run cluster prints them). */
  readonly onLine?: (line: string) => void;
}

/** The broker the repo's script runs (scripts/services/kafka.sh), on a state dir of the cluster's. */
export class ScriptedKafka {
  constructor(readonly stateDir: string) {}

  async start(): Promise<string> {
    const { stdout } = await run(KAFKA_SCRIPT, ['start', this.stateDir], { maxBuffer: 1 << 20 });
    return stdout.trim().split('\n').pop()!.trim();
  }

  async stop(): Promise<void> {
    await run(KAFKA_SCRIPT, ['stop', this.stateDir]);
  }
}

/**
 * A whole adtally cluster on loopback: a Kafka broker, N collectors, M
 * workers and an api over PostgreSQL and Redis, behind a FrontProxy. What
 * `npm run cluster` runs, and what the cluster tests kill and restart.
 */
export class LocalCluster {
  readonly collectors: AdtallyChild[] = [];
  readonly workers: AdtallyChild[] = [];
  api: AdtallyChild | undefined;
  proxy: FrontProxy | undefined;
  kafka: ScriptedKafka | undefined;
  private serial = 0;

  private constructor(
    private readonly options: LocalClusterOptions,
    readonly bootstrap: string,
    readonly database: string,
    readonly env: Record<string, string>,
    readonly urls: { readonly log: string; readonly store: string; readonly dedup: string },
  ) {}

  static async start(options: LocalClusterOptions): Promise<LocalCluster> {
    mkdirSync(options.dir, { recursive: true });
    let kafka: ScriptedKafka | undefined;
    let bootstrap = options.kafka;
    if (bootstrap === undefined) {
      kafka = new ScriptedKafka(join(options.dir, 'kafka'));
      bootstrap = await kafka.start();
    }
    const id = randomBytes(4).toString('hex');
    const server = options.postgresServer ?? 'postgres://postgres@127.0.0.1:5432';
    const database = `adtally_cluster_${id}`;
    const admin = new pg.Client({ connectionString: `${server}/postgres` });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${database}`);
    } finally {
      await admin.end();
    }
    const partitions = options.partitions ?? 6;
    const urls = {
      log: `kafka://${bootstrap}/adtally-events-${id}?partitions=${partitions}`,
      store: `${server}/${database}`,
      dedup: `${options.redis ?? 'redis://127.0.0.1:6379'}?prefix=adtally:${id}`,
    };
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env))
      if (!k.startsWith('ADTALLY_') && v !== undefined) env[k] = v;
    env.ADTALLY_SECRET = options.secret ?? `cluster-secret-${randomBytes(12).toString('hex')}`;
    env.ADTALLY_ADMIN_TOKEN = options.adminToken ?? `adm_cluster_${randomBytes(12).toString('hex')}`;
    Object.assign(env, options.env ?? {});
    const cluster = new LocalCluster(options, bootstrap, database, env, urls);
    cluster.kafka = kafka;
    try {
      // The api first: it makes the store's schema before collectors and workers race for it.
      cluster.api = await cluster.spawn('api');
      for (let i = 0; i < (options.workers ?? 2); i++) cluster.workers.push(await cluster.spawn('worker'));
      for (let i = 0; i < (options.collectors ?? 2); i++)
        cluster.collectors.push(await cluster.spawn('collector'));
      cluster.proxy = await FrontProxy.start({
        collectors: cluster.collectors.map((c) => c.url),
        apis: [cluster.api.url],
      });
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** Starts one more process of `role` (a new worker joins the group: a rebalance). */
  async spawn(role: 'collector' | 'worker' | 'api'): Promise<AdtallyChild> {
    const name = `${role}-${++this.serial}`;
    const args = [
      role,
      '--data-dir',
      join(this.options.dir, name),
      '--log',
      this.urls.log,
      '--store',
      this.urls.store,
    ];
    if (role === 'worker') args.push('--dedup', this.urls.dedup);
    if (this.options.archive === true && role !== 'collector') {
      args.push('--archive', `file:${join(this.options.dir, 'archive')}`);
    }
    args.push(...(this.options.args?.[role] ?? []));
    return AdtallyChild.start(name, args, this.env, this.options.onLine);
  }

  /** Starts a collector in place of `index` (on a fresh port) and points the proxy at the live ones. */
  async replaceCollector(index: number): Promise<AdtallyChild> {
    const fresh = await this.spawn('collector');
    this.collectors[index] = fresh;
    this.proxy?.setCollectors(this.collectors.map((c) => c.url));
    return fresh;
  }

  get url(): string {
    return this.proxy!.url;
  }

  get adminToken(): string {
    return this.env.ADTALLY_ADMIN_TOKEN!;
  }

  get secret(): string {
    return this.env.ADTALLY_SECRET!;
  }

  /** Stops everything (SIGTERM, clean), the broker last; drops the cluster's database. */
  async stop(): Promise<void> {
    await this.proxy?.close();
    await Promise.all(this.collectors.map((c) => c.stop()));
    await Promise.all(this.workers.map((w) => w.stop()));
    await this.api?.stop();
    await this.kafka?.stop();
  }

  /** Drops the cluster's database (tests; `npm run cluster` keeps it for a look afterwards). */
  async dropDatabase(): Promise<void> {
    const server = this.options.postgresServer ?? 'postgres://postgres@127.0.0.1:5432';
    const admin = new pg.Client({ connectionString: `${server}/postgres` });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${this.database} WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  }
}
