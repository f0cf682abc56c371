import { ConfigError } from '../../config/settings.js';

/** Where a `postgres://` store URL points, and the budgets adtally reads from its query string. */
export interface PostgresLocation {
  /** The URL as `pg` takes it: adtally's own parameters removed. */
  readonly connectionString: string;
  /** Connections of the pool (`?pool=N`, default 8): the most statements this process runs at once. */
  readonly pool: number;
  /** Connecting, and waiting for a free pooled connection, give up after this (`?connect_timeout_ms=MS`). */
  readonly connectTimeoutMs: number;
  /** The server cancels a statement running longer (`?statement_timeout_ms=MS`). */
  readonly statementTimeoutMs: number;
}

export const DEFAULT_POOL = 8;
const DEFAULTS = { connectTimeoutMs: 5_000, statementTimeoutMs: 10_000 };
const MAX_POOL = 100;

/** Query parameters `pg` understands itself, passed through unchanged. */
const PASSED_THROUGH = ['sslmode', 'application_name', 'options'];
const OWN = ['pool', 'connect_timeout_ms', 'statement_timeout_ms'];

function intParam(url: string, name: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`store URL "${url}": ${name}=${raw} is not a whole number in [${min}, ${max}]`);
  }
  return Number(raw);
}

/**
 * Parses `postgres://[user[:password]@]host[:port]/database[?pool=N&connect_timeout_ms=MS&statement_timeout_ms=MS]`
 * (or `postgresql://`). Anything else, or an unknown parameter, is a
 * ConfigError naming what is wrong: a typo such as `?pol=4` must not leave
 * the default pool in place silently.
 */
export function parsePostgresUrl(url: string): PostgresLocation {
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new ConfigError(`store URL "${url}" is not a postgres:// or postgresql:// URL`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(
      `store URL "${url}" is malformed: expected postgres://user@host:port/database?pool=N`,
    );
  }
  if (parsed.hostname === '') throw new ConfigError(`store URL "${url}" names no host`);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/')) {
    throw new ConfigError(`store URL "${url}" must name one database (postgres://host:port/<database>)`);
  }
  let pool = DEFAULT_POOL;
  let { connectTimeoutMs, statementTimeoutMs } = DEFAULTS;
  for (const [name, raw] of parsed.searchParams) {
    if (name === 'pool') pool = intParam(url, name, raw, 1, MAX_POOL);
    else if (name === 'connect_timeout_ms') connectTimeoutMs = intParam(url, name, raw, 1, 600_000);
    else if (name === 'statement_timeout_ms') statementTimeoutMs = intParam(url, name, raw, 1, 3_600_000);
    else if (!PASSED_THROUGH.includes(name)) {
      throw new ConfigError(
        `store URL "${url}": unknown parameter "${name}" (known: ${[...OWN, ...PASSED_THROUGH].join(', ')})`,
      );
    }
  }
  for (const name of OWN) parsed.searchParams.delete(name);
  return { connectionString: parsed.toString(), pool, connectTimeoutMs, statementTimeoutMs };
}
