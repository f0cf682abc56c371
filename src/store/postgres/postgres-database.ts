import pg from 'pg';
import { parsePostgresUrl, type PostgresLocation } from './postgres-url.js';

/** Rows of a query, typed by the caller (columns are cast in SQL so `pg` gives numbers). */
export type Rows<T> = T[];

/** What a transaction body may do: statements on the one connection that holds the transaction. */
export interface PgTransaction {
  query<T>(text: string, values?: unknown[], name?: string): Promise<Rows<T>>;
}

/**
 * Serialises DDL across processes: every schema change and partition creation
 * takes this transaction-scoped advisory lock first, so two processes opening
 * the same database at once never race on `CREATE ... IF NOT EXISTS` (which
 * is not atomic in PostgreSQL: the loser fails on a unique index of pg_type).
 */
export const SCHEMA_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('adtally.schema'))";

/**
 * One bounded `pg.Pool` for a PostgreSQL serving store, shared by its
 * aggregate and catalog stores. Every wait is bounded: taking a connection
 * (or opening one) by `connectTimeoutMs`, a statement by the server's
 * `statement_timeout` and, should the server vanish without closing the
 * socket, by the client's `query_timeout` a little later: a dead server fails
 * requests instead of hanging them.
 */
export class PostgresDatabase {
  private closing: Promise<void> | undefined;

  private constructor(
    readonly location: PostgresLocation,
    readonly pool: pg.Pool,
  ) {}

  /** Opens the pool and checks the server answers (so a wrong URL fails here, not at the first commit). */
  static async open(url: string, options: { applicationName?: string } = {}): Promise<PostgresDatabase> {
    const location = parsePostgresUrl(url);
    const pool = new pg.Pool({
      ...PostgresDatabase.clientConfig(location, options.applicationName),
      max: location.pool,
      idleTimeoutMillis: 30_000,
    });
    // An idle pooled connection that breaks (server restart) emits 'error' on
    // the pool; the pool drops it and opens a new one on demand. Without a
    // listener Node would treat it as an uncaught error and exit.
    pool.on('error', () => undefined);
    const db = new PostgresDatabase(location, pool);
    try {
      await db.ping();
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new Error(`PostgreSQL store at ${redacted(url)} does not answer: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return db;
  }

  /** The settings of one connection, for the pool and for a dedicated client (LISTEN). */
  static clientConfig(location: PostgresLocation, applicationName = 'adtally'): pg.ClientConfig {
    return {
      connectionString: location.connectionString,
      connectionTimeoutMillis: location.connectTimeoutMs,
      statement_timeout: location.statementTimeoutMs,
      query_timeout: location.statementTimeoutMs + 2_000,
      // A transaction left open by a process that hangs must not hold row locks forever.
      idle_in_transaction_session_timeout: location.statementTimeoutMs + 5_000,
      keepAlive: true,
      application_name: applicationName,
    };
  }

  /** A new client (not pooled) with the pool's settings: the caller connects and ends it. */
  newClient(applicationName?: string): pg.Client {
    return new pg.Client(PostgresDatabase.clientConfig(this.location, applicationName));
  }

  /** One statement on any pooled connection. `name` prepares it once per connection (hot queries). */
  async query<T>(text: string, values: unknown[] = [], name?: string): Promise<Rows<T>> {
    const result = await this.pool.query<T & pg.QueryResultRow>(
      name === undefined ? { text, values } : { text, values, name },
    );
    return result.rows;
  }

  /**
   * Runs `work` between BEGIN and COMMIT on one pooled connection, rolling
   * back if it throws. A connection whose ROLLBACK fails too (the server went
   * away) is destroyed, not returned to the pool.
   */
  async transaction<T>(work: (tx: PgTransaction) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work({
        query: async <R>(text: string, values: unknown[] = [], name?: string) =>
          (
            await client.query<R & pg.QueryResultRow>(
              name === undefined ? { text, values } : { text, values, name },
            )
          ).rows,
      });
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /** Runs `ddl` (statements without parameters) in one transaction under the schema lock. */
  applySchema(ddl: string): Promise<void> {
    return this.transaction(async (tx) => {
      await tx.query(SCHEMA_LOCK_SQL);
      await tx.query(ddl);
    });
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  /** Ends the pool once; later calls wait for the same end. */
  close(): Promise<void> {
    this.closing ??= this.pool.end();
    return this.closing;
  }
}

/** The URL without its password, for messages. */
export function redacted(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}
