import { join } from 'node:path';
import { parseRange } from '../reconcile/reconcile-runner.js';
import {
  ConfigError,
  backendSetting,
  durationSetting,
  helpLines,
  readCommandLine,
  stringSetting,
  type SettingSpec,
} from './settings.js';

/** What `adtally reconcile` needs, parsed once. */
export interface ReconcileConfig {
  readonly fromMinute: number;
  readonly toMinute: number;
  readonly dataDir: string;
  readonly store: string;
  readonly archive: string;
  /** The event log: its Kafka topic names the aggregation consumers of a PostgreSQL store. */
  readonly log: string | undefined;
  /** A running serve on the data dir, asked through its admin route. */
  readonly url: string;
  readonly allowedLatenessMs: number;
  readonly clickTtlMs: number;
  /** How long to wait for the workers' archivers to reach the cut (distributed mode). */
  readonly archiveWaitMs: number;
  readonly adminToken: string | undefined;
}

const instantSetting = (flag: string, help: string): SettingSpec<string> => ({
  flag,
  env: '',
  help,
  placeholder: 'INSTANT',
  parse: (raw) => (raw.length === 0 ? { error: 'must not be empty' } : raw),
});

export const RECONCILE_SETTINGS = {
  from: instantSetting('from', 'first instant reconciled (ISO 8601; default: 24 hours before --to)'),
  to: instantSetting('to', 'end of the range, exclusive (ISO 8601; default: the start of the current hour)'),
  dataDir: stringSetting('data-dir', 'ADTALLY_DATA_DIR', 'data directory (default ./data)', 'DIR'),
  store: backendSetting(
    'store',
    'ADTALLY_STORE',
    'serving store (default duckdb:<data-dir>/adtally.duckdb)',
    ['duckdb:', 'postgres:', 'postgresql:'],
  ),
  archive: backendSetting('archive', 'ADTALLY_ARCHIVE', 'raw archive (default file:<data-dir>/archive)', [
    'file:',
  ]),
  log: backendSetting('log', 'ADTALLY_LOG', 'event log; with a PostgreSQL store, the kafka:// topic', [
    'file:',
    'kafka:',
  ]),
  url: stringSetting(
    'url',
    '',
    'a running serve on this data dir is asked at this address (default http://127.0.0.1:<ADTALLY_PORT or 8080>)',
    'URL',
  ),
  clickTtl: durationSetting(
    'click-ttl',
    'ADTALLY_CLICK_TTL',
    'token lifetime, as the stream was run (default 24h)',
  ),
  allowedLateness: durationSetting(
    'allowed-lateness',
    'ADTALLY_ALLOWED_LATENESS',
    'allowed lateness, as the stream was run (default 5s)',
  ),
  archiveWait: durationSetting(
    'archive-wait',
    '',
    'distributed: how long to wait for the archivers to reach the aggregation (default 60s)',
  ),
} satisfies Record<string, SettingSpec<unknown>>;

export function reconcileHelp(): string {
  return [
    'usage: adtally reconcile [--from INSTANT] [--to INSTANT] [options]',
    '',
    'Recomputes every (ad, minute) of the range from the raw archive with the stream rules,',
    'repairs the serving store where it differs, folds in late events, and writes a report',
    'under <data-dir>/reconcile/. Against a running serve (which holds the DuckDB file) it',
    'asks that process (POST /api/v1/reconcile, admin token from ADTALLY_ADMIN_TOKEN or the',
    "data dir's secrets.json). Default range: the last 24 whole hours before the current one.",
    '',
    'options (flags win over environment variables):',
    ...helpLines(RECONCILE_SETTINGS),
  ].join('\n');
}

/** Parses argv (after `reconcile`) and the environment; ConfigError (exit 2) for anything malformed. */
export function parseReconcileConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  nowMs: number,
): ReconcileConfig | 'help' {
  const { help, values } = readCommandLine(argv, RECONCILE_SETTINGS, { env });
  if (help) return 'help';
  const range = parseRange(values.from, values.to, nowMs);
  if (typeof range === 'string') throw new ConfigError(range);
  const dataDir = values.dataDir ?? './data';
  const store = values.store ?? `duckdb:${join(dataDir, 'adtally.duckdb')}`;
  if (!store.startsWith('duckdb:') && values.log?.startsWith('kafka:') !== true) {
    throw new ConfigError(
      '--log: a PostgreSQL store needs the kafka:// event log whose partitions it aggregates',
    );
  }
  const port = env.ADTALLY_PORT ?? '8080';
  return {
    ...range,
    dataDir,
    store,
    archive: values.archive ?? `file:${join(dataDir, 'archive')}`,
    log: values.log,
    url: (values.url ?? `http://127.0.0.1:${port}`).replace(/\/+$/, ''),
    allowedLatenessMs: values.allowedLateness ?? 5_000,
    clickTtlMs: values.clickTtl ?? 24 * 3_600_000,
    archiveWaitMs: values.archiveWait ?? 60_000,
    adminToken: env.ADTALLY_ADMIN_TOKEN,
  };
}
