import { DEFAULT_RETENTION, type RetentionAges } from '../retention/data-retention.js';
import { join } from 'node:path';
import { parseKafkaLogUrl, type KafkaLogLocation } from '../log/kafka/kafka-url.js';
import type { SqlLimits } from '../analytics/sql-limits.js';
import { ARCHIVE_ROLL_SETTINGS, archiveRollConfig, type ArchiveRollConfig } from './archive-settings.js';
import { DEFAULT_RECONCILE_GRACE_MS } from '../reconcile/reconcile-schedule.js';
import { DEFAULT_EVENTS_INFLIGHT_BYTES, SERVE_SETTINGS, SQL_SETTINGS, sqlLimitsOf } from './serve-config.js';
import {
  ConfigError,
  backendSetting,
  durationSetting,
  helpLines,
  readCommandLine,
  stringSetting,
  type SettingSpec,
  type SettingSpecs,
  type SettingValues,
} from './settings.js';

/**
 * The distributed commands of SPEC 5: `collector` (tracking routes), `worker`
 * (aggregation consumers, one Kafka consumer group) and `api` (catalog and
 * queries). Each takes the backend URLs; the secrets every process must share
 * come from the environment and are required (a collector that generated its
 * own would sign tokens no other collector accepts).
 */
export type ClusterRole = 'collector' | 'worker' | 'api';

const COMMON = {
  port: SERVE_SETTINGS.port,
  host: SERVE_SETTINGS.host,
  dataDir: SERVE_SETTINGS.dataDir,
  store: backendSetting('store', 'ADTALLY_STORE', 'serving store (required: postgres://...)', [
    'postgres:',
    'postgresql:',
  ]),
  allowedLateness: SERVE_SETTINGS.allowedLateness,
} satisfies SettingSpecs;

const LOG = backendSetting(
  'log',
  'ADTALLY_LOG',
  'event log (required: kafka://host:port/topic?partitions=N)',
  ['kafka:'],
);

const ROLE_SETTINGS = {
  collector: {
    ...COMMON,
    log: LOG,
    publicUrl: SERVE_SETTINGS.publicUrl,
    eventsInflightBytes: SERVE_SETTINGS.eventsInflightBytes,
    clickTtl: SERVE_SETTINGS.clickTtl,
    produceDeadline: durationSetting(
      'produce-deadline',
      'ADTALLY_PRODUCE_DEADLINE',
      'past this wait for Kafka, events are spilled to the local file log (default 2s)',
    ),
  },
  worker: {
    ...COMMON,
    log: LOG,
    dedup: backendSetting('dedup', 'ADTALLY_DEDUP', 'dedup store (required: redis://host:port)', ['redis:']),
    clickTtl: SERVE_SETTINGS.clickTtl,
    group: stringSetting('group', 'ADTALLY_GROUP', 'Kafka consumer group (default adtally-workers)', 'NAME'),
    sessionTimeout: durationSetting(
      'session-timeout',
      'ADTALLY_SESSION_TIMEOUT',
      'consumer group session timeout (default 10s)',
    ),
    archive: backendSetting(
      'archive',
      'ADTALLY_ARCHIVE',
      'raw archive on a path every worker shares (file:<path>; default none: this worker archives nothing)',
      ['file:'],
    ),
    ...ARCHIVE_ROLL_SETTINGS,
    reconcileGrace: SERVE_SETTINGS.reconcileGrace,
    retention: SERVE_SETTINGS.retention,
  },
  api: {
    ...COMMON,
    log: LOG,
    archive: backendSetting(
      'archive',
      'ADTALLY_ARCHIVE',
      'raw archive the workers write, on a shared path (default file:<data-dir>/archive)',
      ['file:'],
    ),
    ...SQL_SETTINGS,
  },
} satisfies Record<ClusterRole, SettingSpecs>;

export interface ClusterConfigBase {
  readonly http: { readonly host: string; readonly port: number };
  readonly dataDir: string;
  readonly store: string;
  readonly log: string;
  /** The log URL parsed: a malformed one is a configuration error (exit 2) before anything opens. */
  readonly kafka: KafkaLogLocation;
  readonly allowedLatenessMs: number;
}

export interface CollectorConfig extends ClusterConfigBase {
  readonly publicUrl: string | undefined;
  readonly eventsInflightBytes: number;
  readonly secret: string;
  readonly clickTtlMs: number;
  /** How long an append may wait for Kafka before it goes to the spill log. */
  readonly produceDeadlineMs: number;
  /** The local file log events are spilled to while Kafka is away (store and forward). */
  readonly spillLog: string;
}

export interface WorkerConfig extends ClusterConfigBase {
  readonly dedup: string;
  readonly clickTtlMs: number;
  readonly group: string;
  readonly sessionTimeoutMs: number;
  /**
   * The raw archive (a `file:` URL on a path all workers share), with when
   * its files are closed; undefined: no archiver runs in this worker.
   */
  readonly archive: ({ readonly url: string } & ArchiveRollConfig) | undefined;
  /** With an archive, the worker holding partition 0 reconciles each hour once closed plus this long (ms). */
  readonly reconcileGraceMs: number;
  /** Every worker deletes archive hours (with an archive) and aggregate minutes past these ages; deletions are idempotent. */
  readonly retention: RetentionAges;
}

export interface ApiConfig extends ClusterConfigBase {
  readonly adminToken: string;
  /** The raw archive (`file:<path>`), read by POST /api/v1/sql and GET /api/v1/export. */
  readonly archive: string;
  readonly sql: SqlLimits;
}

const ROLE_ENV: Record<ClusterRole, readonly string[]> = {
  collector: ['ADTALLY_SECRET'],
  worker: [],
  api: ['ADTALLY_ADMIN_TOKEN'],
};

const SUMMARY: Record<ClusterRole, string> = {
  collector: 'Serves the tracking routes and appends every event to Kafka (stateless; run many).',
  worker: 'Aggregates the Kafka topic as one member of a consumer group into PostgreSQL (run many).',
  api: 'Serves the catalog, the query API and analytical SQL/export from PostgreSQL and the archive.',
};

export function clusterHelp(role: ClusterRole): string {
  return [
    `usage: adtally ${role} [options]`,
    '',
    SUMMARY[role],
    '',
    'options (flags win over environment variables):',
    ...helpLines(ROLE_SETTINGS[role]),
    ...(ROLE_ENV[role].length === 0 ? [] : ['', `required in the environment: ${ROLE_ENV[role].join(', ')}`]),
  ].join('\n');
}

function required<T>(value: T | undefined, spec: SettingSpec<unknown>): T {
  if (value === undefined) throw new ConfigError(`--${spec.flag} (or ${spec.env}) is required: ${spec.help}`);
  return value;
}

function requiredSecret(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (value === undefined) {
    throw new ConfigError(`${name} is required: every process of the cluster must share it`);
  }
  if (value.length < 16) throw new ConfigError(`${name}: must be at least 16 characters`);
  return value;
}

function read<R extends ClusterRole>(
  role: R,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): SettingValues<(typeof ROLE_SETTINGS)[R]> | 'help' {
  const specs = ROLE_SETTINGS[role];
  const { help, values } = readCommandLine(argv, specs, { env });
  if (help) return 'help';
  const known = new Set([...Object.values(specs).map((s) => s.env), 'ADTALLY_SECRET', 'ADTALLY_ADMIN_TOKEN']);
  for (const name of Object.keys(env)) {
    if (name.startsWith('ADTALLY_') && !known.has(name)) {
      throw new ConfigError(`unknown environment variable ${name} for adtally ${role}`);
    }
  }
  return values;
}

function base(values: SettingValues<typeof COMMON> & { log: string | undefined }): ClusterConfigBase {
  const log = required(values.log, LOG);
  return {
    http: { host: values.host ?? '127.0.0.1', port: values.port ?? 8080 },
    dataDir: values.dataDir ?? './data',
    store: required(values.store, COMMON.store),
    log,
    kafka: parseKafkaLogUrl(log),
    allowedLatenessMs: values.allowedLateness ?? 5_000,
  };
}

const DAY_MS = 24 * 3_600_000;

export function parseCollectorConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): CollectorConfig | 'help' {
  const values = read('collector', argv, env);
  if (values === 'help') return 'help';
  const common = base(values);
  const produceDeadlineMs = values.produceDeadline ?? 2_000;
  // A spilled event is this old when the watermark is held for it; the hold must reach the workers in time.
  if (produceDeadlineMs + 1_000 > common.allowedLatenessMs) {
    throw new ConfigError(
      `--produce-deadline (${produceDeadlineMs} ms) must be at least 1s under --allowed-lateness (${common.allowedLatenessMs} ms), ` +
        'or events spilled while Kafka is away could arrive late',
    );
  }
  return {
    ...common,
    publicUrl: values.publicUrl,
    eventsInflightBytes: values.eventsInflightBytes ?? DEFAULT_EVENTS_INFLIGHT_BYTES,
    secret: requiredSecret(env, 'ADTALLY_SECRET'),
    clickTtlMs: values.clickTtl ?? DAY_MS,
    produceDeadlineMs,
    spillLog: `file:${join(common.dataDir, 'spill')}`,
  };
}

export function parseWorkerConfig(argv: readonly string[], env: NodeJS.ProcessEnv): WorkerConfig | 'help' {
  const values = read('worker', argv, env);
  if (values === 'help') return 'help';
  return {
    ...base(values),
    dedup: required(values.dedup, ROLE_SETTINGS.worker.dedup),
    clickTtlMs: values.clickTtl ?? DAY_MS,
    group: values.group ?? 'adtally-workers',
    sessionTimeoutMs: values.sessionTimeout ?? 10_000,
    archive: values.archive === undefined ? undefined : { url: values.archive, ...archiveRollConfig(values) },
    reconcileGraceMs: values.reconcileGrace ?? DEFAULT_RECONCILE_GRACE_MS,
    retention: values.retention ?? DEFAULT_RETENTION,
  };
}

export function parseApiConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ApiConfig | 'help' {
  const values = read('api', argv, env);
  if (values === 'help') return 'help';
  const common = base(values);
  return {
    ...common,
    adminToken: requiredSecret(env, 'ADTALLY_ADMIN_TOKEN'),
    archive: values.archive ?? `file:${join(common.dataDir, 'archive')}`,
    sql: sqlLimitsOf(values),
  };
}
