import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server tests and the postgres-series bench use; `ADTALLY_TEST_POSTGRES` overrides it. */
export function testServerUrl(): string {
  return process.env.ADTALLY_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

export interface FreshDatabase {
  /** postgres:// URL of the new database (extra query parameters may be appended with `&`). */
  readonly url: string;
  readonly name: string;
  /** Drops the database, ending any connection still open to it. */
  drop(): Promise<void>;
}

async function onServer<T>(serverUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * Creates `adtally_<label>_<random>` on the test server, so parallel test
 * files (and other people's runs on the same server) never share data.
 */
export async function createFreshDatabase(
  label: string,
  serverUrl = testServerUrl(),
): Promise<FreshDatabase> {
  const name = `adtally_${label}_${randomBytes(5).toString('hex')}`;
  await onServer(serverUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () =>
      onServer(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(
        () => undefined,
      ),
  };
}

/** Whether the server answers: the bench skips its PostgreSQL scenario when not. */
export async function serverReachable(serverUrl = testServerUrl()): Promise<string | undefined> {
  try {
    await onServer(serverUrl, (client) => client.query('SELECT 1'));
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
