import { ConfigError, pathOfUrl } from '../config/settings.js';
import type { AggregateStore } from './aggregate-store.js';
import type { CatalogStore } from './catalog-store.js';
import { DuckDbAggregateStore } from './duckdb/duckdb-aggregate-store.js';
import { DuckDbCatalogStore } from './duckdb/duckdb-catalog-store.js';
import { DuckDbDatabase } from './duckdb/duckdb-database.js';
import type { CatalogWatch, CatalogWatchOptions } from './postgres/catalog-watch.js';
import { PostgresAggregateStore } from './postgres/postgres-aggregate-store.js';
import { PostgresCatalogStore } from './postgres/postgres-catalog-store.js';
import { PostgresDatabase } from './postgres/postgres-database.js';
import { parsePostgresUrl } from './postgres/postgres-url.js';

/** Where a serving store URL points; one variant per backend. */
export type ServingStoreLocation =
  | { readonly backend: 'duckdb'; readonly path: string }
  | { readonly backend: 'postgres'; readonly url: string };

/** The serving store of one process: aggregates and catalog over one connection pool (or one DuckDB file). */
export interface ServingStore {
  readonly backend: ServingStoreLocation['backend'];
  readonly aggregates: AggregateStore;
  readonly catalog: CatalogStore;
  /**
   * Calls `onChange` after every catalog write by any process, and once after
   * each reconnection (PostgreSQL LISTEN/NOTIFY). Absent for DuckDB: one
   * process owns the file, and it sees its own writes.
   */
  readonly watchCatalog?: (onChange: () => void, options?: CatalogWatchOptions) => Promise<CatalogWatch>;
  /** Whether the store answers (for /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenServingStoreOptions {
  /** Shown by PostgreSQL in pg_stat_activity (e.g. `adtally-worker`). */
  readonly applicationName?: string;
}

/**
 * Parses a serving store URL: `postgres://` or `postgresql://` (see
 * parsePostgresUrl for its parameters), or `duckdb:<path>` (`duckdb:rel`,
 * `duckdb:/abs`, `duckdb:///abs`). Anything else is a ConfigError.
 */
export function parseServingStoreUrl(url: string): ServingStoreLocation {
  if (/^postgres(ql)?:/.test(url)) {
    parsePostgresUrl(url); // throws a ConfigError naming what is wrong
    return { backend: 'postgres', url };
  }
  if (url.startsWith('duckdb:')) return { backend: 'duckdb', path: pathOfUrl(url) };
  throw new ConfigError(
    `unsupported store URL "${url}": expected postgres://host:port/database or duckdb:<path>`,
  );
}

/**
 * Opens the serving store a URL names, creating its schema if missing.
 *
 * PostgreSQL: one bounded pool shared by both stores; any number of
 * processes (collectors, workers, api) may open the same database.
 *
 * DuckDB: the file, opened here on this thread, with neither minute index
 * nor a second read connection: for tests and for a single `adtally api` or
 * `worker` pointed at a DuckDB file. `adtally serve` does not come through
 * here: it opens its DuckDB file on its aggregation thread. A DuckDB file has
 * one writing process; a second process opening it fails on DuckDB's lock.
 */
export async function openServingStore(
  url: string,
  options: OpenServingStoreOptions = {},
): Promise<ServingStore> {
  const location = parseServingStoreUrl(url);
  if (location.backend === 'postgres') {
    const db = await PostgresDatabase.open(
      location.url,
      options.applicationName === undefined ? {} : { applicationName: options.applicationName },
    );
    try {
      const catalog = await PostgresCatalogStore.create(db);
      const aggregates = await PostgresAggregateStore.create(db);
      return {
        backend: 'postgres',
        aggregates,
        catalog,
        watchCatalog: (onChange, watchOptions) => catalog.watchCatalog(onChange, watchOptions),
        ping: () => db.ping(),
        close: () => db.close(),
      };
    } catch (err) {
      await db.close();
      throw err;
    }
  }
  const db = await DuckDbDatabase.open(location.path);
  try {
    const catalog = await DuckDbCatalogStore.create(db);
    const aggregates = await DuckDbAggregateStore.create(db);
    let closing: Promise<void> | undefined;
    return {
      backend: 'duckdb',
      aggregates,
      catalog,
      ping: () => catalog.ping(),
      close: () => (closing ??= db.close()),
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}
