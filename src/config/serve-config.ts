import { parseDurationMs } from '../domain/duration.js';
import { DEFAULT_RETENTION, parseRetentionSetting, type RetentionAges } from '../retention/data-retention.js';
import { join } from 'node:path';
import { DEFAULT_SQL_LIMITS, type SqlLimits } from '../analytics/sql-limits.js';
import { MAX_BATCH_BYTES } from '../ingest/batch.js';
import { DEFAULT_RECONCILE_GRACE_MS } from '../reconcile/reconcile-schedule.js';
import { ARCHIVE_ROLL_SETTINGS, archiveRollConfig, type ArchiveRollConfig } from './archive-settings.js';
import {
  ConfigError,
  backendSetting,
  durationSetting,
  helpLines,
  portSetting,
  positiveIntSetting,
  readCommandLine,
  stringSetting,
  type SettingSpec,
} from './settings.js';

/** Everything `adtally serve` needs, parsed and checked once at start. */
export interface ServeConfig {
  readonly http: {
    readonly host: string;
    readonly port: number;
    /**
     * Base of the URLs GET /ad hands out (absolute http/https, no trailing slash);
     * undefined: `http://<host>:<bound port>`, known once listening.
     */
    readonly publicUrl: string | undefined;
    /** Bytes of POST /events bodies that may be in flight at once. */
    readonly eventsInflightBytes: number;
  };
  readonly dataDir: string;
  readonly backends: {
    readonly log: string;
    readonly dedup: string;
    readonly store: string;
    readonly archive: string;
  };
  readonly log: { readonly segmentBytes: number };
  /** When the archiver closes its Parquet files. */
  readonly archive: ArchiveRollConfig;
  /** Consumed log segments older than `ms`, or over `bytes` in all (no cap if undefined), are deleted. */
  readonly logRetention: { readonly ms: number; readonly bytes: number | undefined };
  readonly tokens: {
    /** From ADTALLY_SECRET; when absent the data directory's generated secret is used. */
    readonly secret: string | undefined;
    readonly clickTtlMs: number;
  };
  readonly allowedLatenessMs: number;
  /** Each hour is reconciled by itself once closed plus this long (ms). */
  readonly reconcileGraceMs: number;
  /** Raw archive and aggregates past these ages are deleted in the background. */
  readonly retention: RetentionAges;
  /** From ADTALLY_ADMIN_TOKEN; when absent the data directory's generated token is used. */
  readonly adminToken: string | undefined;
  /** Budgets of POST /api/v1/sql and GET /api/v1/export. */
  readonly sql: SqlLimits;
}

/**
 * 64 MiB of bodies: 64 full batches at once. A 1 MiB batch of valid lines holds
 * about 13 MiB until its answer (measured; docs/ARCHITECTURE.md), so this bounds
 * POST /events at roughly 850 MiB over the process's base.
 */
export const DEFAULT_EVENTS_INFLIGHT_BYTES = 64 * 1024 * 1024;

/**
 * An absolute http/https URL, optionally with a path prefix; kept without its
 * trailing slash so routes append `/click?...` to it.
 */
export function parsePublicUrl(raw: string): string | { error: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { error: `"${raw}" is not an absolute URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { error: `expected an http or https URL, got ${url.protocol}` };
  }
  if (url.username !== '' || url.password !== '') return { error: 'must not carry credentials' };
  if (url.search !== '' || url.hash !== '' || raw.includes('?') || raw.includes('#')) {
    return { error: 'must not have a query or a fragment' };
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function publicUrlSetting(flag: string, env: string, help: string): SettingSpec<string> {
  return { flag, env, help, placeholder: 'URL', parse: parsePublicUrl };
}

/** At least one full batch must fit, or a POST /events of 1 MiB could never be taken. */
function inflightBytesSetting(flag: string, env: string, help: string): SettingSpec<number> {
  const base = positiveIntSetting(flag, env, help);
  return {
    ...base,
    placeholder: 'BYTES',
    parse: (raw) => {
      const value = base.parse(raw);
      if (typeof value === 'number' && value < MAX_BATCH_BYTES) {
        return { error: `must be at least ${MAX_BATCH_BYTES} (one full batch)` };
      }
      return value;
    },
  };
}

/** An integer in [min, max]. */
function intInRangeSetting(
  flag: string,
  env: string,
  help: string,
  min: number,
  max: number,
): SettingSpec<number> {
  return {
    flag,
    env,
    help,
    placeholder: 'N',
    parse: (raw) => {
      const value = /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
      if (!(value >= min && value <= max)) return { error: `expected an integer from ${min} to ${max}` };
      return value;
    },
  };
}

const D = DEFAULT_SQL_LIMITS;

/** The analytical SQL and export budgets (analytics/sql-limits.ts), shared by `serve` and `api`. */
export const SQL_SETTINGS = {
  sqlTimeout: durationSetting(
    'sql-timeout',
    'ADTALLY_SQL_TIMEOUT',
    `a SQL statement past this is interrupted, 408 (default ${D.timeoutMs / 1000}s)`,
  ),
  sqlRowLimit: intInRangeSetting(
    'sql-row-limit',
    'ADTALLY_SQL_ROW_LIMIT',
    `rows of a SQL answer, past it 400 (default ${D.rowLimit})`,
    1,
    10_000_000,
  ),
  sqlMaterialiseRows: intInRangeSetting(
    'sql-materialise-rows',
    'ADTALLY_SQL_MATERIALISE_ROWS',
    `minutes, and an advertiser's events, copied into a SQL sandbox, past it 400 (default ${D.materialiseRows})`,
    1,
    1_000_000_000,
  ),
  sqlConcurrency: intInRangeSetting(
    'sql-concurrency',
    'ADTALLY_SQL_CONCURRENCY',
    `SQL statements (and, apart, exports) at once, past it 503 (default ${D.concurrency})`,
    1,
    64,
  ),
  sqlMemoryMb: intInRangeSetting(
    'sql-memory-mb',
    'ADTALLY_SQL_MEMORY_MB',
    `DuckDB memory_limit of each SQL sandbox, MiB (default ${D.memoryMb})`,
    16,
    1_048_576,
  ),
  sqlThreads: intInRangeSetting(
    'sql-threads',
    'ADTALLY_SQL_THREADS',
    `DuckDB threads of each SQL sandbox (default ${D.threads})`,
    1,
    64,
  ),
} satisfies Record<string, SettingSpec<unknown>>;

/** The SQL budgets from the values read for SQL_SETTINGS, defaults filled in. */
export function sqlLimitsOf(values: {
  [K in keyof typeof SQL_SETTINGS]: number | undefined;
}): SqlLimits {
  return {
    timeoutMs: values.sqlTimeout ?? D.timeoutMs,
    rowLimit: values.sqlRowLimit ?? D.rowLimit,
    materialiseRows: values.sqlMaterialiseRows ?? D.materialiseRows,
    concurrency: values.sqlConcurrency ?? D.concurrency,
    memoryMb: values.sqlMemoryMb ?? D.memoryMb,
    threads: values.sqlThreads ?? D.threads,
  };
}

export const SERVE_SETTINGS = {
  port: portSetting('port', 'ADTALLY_PORT', 'listen port (default 8080; 0 picks a free one)'),
  host: stringSetting('host', 'ADTALLY_HOST', 'listen address (default 127.0.0.1)', 'HOST'),
  publicUrl: publicUrlSetting(
    'public-url',
    'ADTALLY_PUBLIC_URL',
    'base of the URLs GET /ad hands out (default http://<host>:<port>)',
  ),
  eventsInflightBytes: inflightBytesSetting(
    'events-inflight-bytes',
    'ADTALLY_EVENTS_INFLIGHT_BYTES',
    `POST /events body bytes in flight, past it 503 (default ${DEFAULT_EVENTS_INFLIGHT_BYTES}: memory ~13x it)`,
  ),
  dataDir: stringSetting('data-dir', 'ADTALLY_DATA_DIR', 'data directory (default ./data)', 'DIR'),
  log: backendSetting('log', 'ADTALLY_LOG', 'event log (default file:<data-dir>/log)', ['file:']),
  dedup: backendSetting('dedup', 'ADTALLY_DEDUP', 'dedup state (default embedded:)', ['embedded:']),
  store: backendSetting(
    'store',
    'ADTALLY_STORE',
    'serving store (default duckdb:<data-dir>/adtally.duckdb)',
    ['duckdb:'],
  ),
  archive: backendSetting('archive', 'ADTALLY_ARCHIVE', 'raw archive (default file:<data-dir>/archive)', [
    'file:',
  ]),
  clickTtl: durationSetting('click-ttl', 'ADTALLY_CLICK_TTL', 'token lifetime (default 24h)'),
  allowedLateness: durationSetting(
    'allowed-lateness',
    'ADTALLY_ALLOWED_LATENESS',
    'allowed lateness (default 5s)',
  ),
  reconcileGrace: durationSetting(
    'reconcile-grace',
    'ADTALLY_RECONCILE_GRACE',
    'reconcile each hour once it is closed plus this long (default 10m)',
  ),
  segmentBytes: positiveIntSetting(
    'log-segment-bytes',
    'ADTALLY_LOG_SEGMENT_BYTES',
    'event log segment size (default 67108864)',
  ),
  logRetention: durationSetting(
    'log-retention',
    'ADTALLY_LOG_RETENTION',
    'delete consumed event log segments older than this (default 7d)',
  ),
  retention: retentionSetting(),
  logRetentionBytes: positiveIntSetting(
    'log-retention-bytes',
    'ADTALLY_LOG_RETENTION_BYTES',
    'past this many log bytes, delete consumed segments whatever their age (default no cap)',
  ),
  ...ARCHIVE_ROLL_SETTINGS,
  ...SQL_SETTINGS,
} satisfies Record<string, SettingSpec<unknown>>;

/** `--retention`: how long raw archive hours and aggregate minutes are kept (retention/data-retention.ts). */
export function retentionSetting(): SettingSpec<RetentionAges> {
  return {
    flag: 'retention',
    env: 'ADTALLY_RETENTION',
    help: 'keep raw archive hours and aggregate minutes this long (default raw=90d,aggregates=400d)',
    placeholder: 'AGES',
    parse: (raw) => parseRetentionSetting(raw, parseDurationMs),
  };
}

/** Secrets are read from the environment only: flags show up in `ps`. */
const SECRET_ENV = ['ADTALLY_SECRET', 'ADTALLY_ADMIN_TOKEN'];

export function serveHelp(command: string, summary: string): string {
  return [
    `usage: adtally ${command} [options]`,
    '',
    summary,
    '',
    'options (flags win over environment variables):',
    ...helpLines(SERVE_SETTINGS),
    '',
    'secrets come from the environment only: ADTALLY_SECRET, ADTALLY_ADMIN_TOKEN',
    '(when unset, both are generated once and kept in the data directory, mode 0600).',
  ].join('\n');
}

/** Every ADTALLY_* variable this command reads; others are a typo and an error. */
function knownEnv(): Set<string> {
  return new Set([...Object.values(SERVE_SETTINGS).map((s) => s.env), ...SECRET_ENV]);
}

/**
 * Parses argv (after the command name) and the environment into a ServeConfig.
 * Throws ConfigError with a one-line reason for unknown flags, unknown
 * ADTALLY_* variables and malformed values. Returns 'help' for --help.
 */
export function parseServeConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ServeConfig | 'help' {
  const { help, values } = readCommandLine(argv, SERVE_SETTINGS, { env });
  if (help) return 'help';
  const known = knownEnv();
  for (const name of Object.keys(env)) {
    if (name.startsWith('ADTALLY_') && !known.has(name)) {
      throw new ConfigError(`unknown environment variable ${name}`);
    }
  }
  const dataDir = values.dataDir ?? './data';
  const secret = env.ADTALLY_SECRET;
  if (secret !== undefined && secret.length < 16)
    throw new ConfigError('ADTALLY_SECRET: must be at least 16 characters');
  const adminToken = env.ADTALLY_ADMIN_TOKEN;
  if (adminToken !== undefined && adminToken.length < 16) {
    throw new ConfigError('ADTALLY_ADMIN_TOKEN: must be at least 16 characters');
  }
  return {
    http: {
      host: values.host ?? '127.0.0.1',
      port: values.port ?? 8080,
      publicUrl: values.publicUrl,
      eventsInflightBytes: values.eventsInflightBytes ?? DEFAULT_EVENTS_INFLIGHT_BYTES,
    },
    dataDir,
    backends: {
      log: values.log ?? `file:${join(dataDir, 'log')}`,
      dedup: values.dedup ?? 'embedded:',
      store: values.store ?? `duckdb:${join(dataDir, 'adtally.duckdb')}`,
      archive: values.archive ?? `file:${join(dataDir, 'archive')}`,
    },
    log: { segmentBytes: values.segmentBytes ?? 64 * 1024 * 1024 },
    archive: archiveRollConfig(values),
    logRetention: { ms: values.logRetention ?? 7 * 86_400_000, bytes: values.logRetentionBytes },
    tokens: { secret, clickTtlMs: values.clickTtl ?? 24 * 3_600_000 },
    allowedLatenessMs: values.allowedLateness ?? 5_000,
    reconcileGraceMs: values.reconcileGrace ?? DEFAULT_RECONCILE_GRACE_MS,
    retention: values.retention ?? DEFAULT_RETENTION,
    adminToken,
    sql: sqlLimitsOf(values),
  };
}
