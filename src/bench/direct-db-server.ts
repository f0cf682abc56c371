import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { sendJson } from '../web/http-io.js';

/** The smallest transparent GIF, as adtally's /impression answers. */
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const PIXEL_HEADERS = {
  'content-type': 'image/gif',
  'content-length': String(PIXEL.length),
  'cache-control': 'no-store',
};
const REDIRECT_HEADERS = {
  location: 'https://example.com/landing',
  'cache-control': 'no-store',
  'content-length': '0',
};
/** Only plain identifiers: the table name is spliced into SQL, it cannot be a bind parameter. */
const TABLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const AD = /^[1-9][0-9]{0,8}$/; // fits PostgreSQL's int (< 2^31)
const TS = /^[0-9]{1,15}$/; // fits bigint and a JS number exactly
const MAX_TEXT = 512;

export interface DirectDbServerOptions {
  /** e.g. `postgres://postgres@127.0.0.1:5432/test`. */
  readonly databaseUrl: string;
  /** Connections in the pool, so at most this many INSERTs in flight. Default 20. */
  readonly poolSize?: number;
  /** Port to listen on, on 127.0.0.1; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Table the events go to; created if missing and emptied at start. Default `direct_db_events`. */
  readonly table?: string;
  /**
   * Longest wait for a free pool connection before the request fails with 503.
   * Bounded so that overload shows up as failures, not as an unbounded queue. Default 10 s.
   */
  readonly connectionTimeoutMillis?: number;
  /** Create and truncate the table at start (default true). False skips every query at start. */
  readonly prepareTable?: boolean;
}

export interface DirectDbServer {
  readonly url: string;
  /** Stops listening, closes the connections, then ends the pool. */
  close(): Promise<void>;
  /** Rows in the table now. */
  rowCount(): Promise<number>;
}

type EventRow = [type: string, ad: number, imp: string, ts: number, sig: string, userAgent: string | null];

/** The event in the query string, or a message naming the first bad parameter. */
function parseEvent(type: string, query: string, userAgent: string | undefined): EventRow | string {
  const params = new URLSearchParams(query);
  const ad = params.get('ad');
  const imp = params.get('imp');
  const ts = params.get('ts');
  const sig = params.get('sig');
  if (ad === null || !AD.test(ad)) return 'ad must be a positive integer';
  if (imp === null || imp.length === 0 || imp.length > MAX_TEXT) return 'imp is required';
  if (ts === null || !TS.test(ts)) return 'ts must be a non-negative integer';
  if (sig === null || sig.length === 0 || sig.length > MAX_TEXT) return 'sig is required';
  return [type, Number(ad), imp, Number(ts), sig, userAgent?.slice(0, MAX_TEXT) ?? null];
}

/**
 * The `direct-db` reference design of the benchmark: an HTTP server that
 * INSERTs each impression or click synchronously into PostgreSQL, one INSERT
 * per request through a pool of `poolSize` connections, and answers only once
 * that INSERT has committed (synchronous commit, no batching: that is what it
 * stands for). `GET /impression?ad&imp&ts&sig` answers a 1x1 GIF, `GET
 * /click?...` a 302 to a fixed URL; a bad query is 400 and a database fault
 * is 503 `{"error":{"code":"unavailable",...}}`.
 */
export async function startDirectDbServer(options: DirectDbServerOptions): Promise<DirectDbServer> {
  const { databaseUrl, poolSize = 20, port = 0, table = 'direct_db_events' } = options;
  if (!TABLE_NAME.test(table)) throw new Error(`table must match ${TABLE_NAME}: ${JSON.stringify(table)}`);
  if (!Number.isInteger(poolSize) || poolSize < 1) throw new Error(`poolSize must be >= 1: ${poolSize}`);

  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: poolSize,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 10_000,
  });
  // An idle connection that dies (server restart, network) emits 'error' on
  // the pool; unhandled, that would crash the process. The pool drops that
  // client by itself, and the next query that fails answers 503.
  pool.on('error', () => {});

  if (options.prepareTable ?? true) {
    try {
      await pool.query(
        `CREATE TABLE IF NOT EXISTS ${table} (
           id bigserial PRIMARY KEY,
           type text NOT NULL,
           ad int NOT NULL,
           imp text NOT NULL,
           ts bigint NOT NULL,
           sig text NOT NULL,
           user_agent text,
           received_at timestamptz NOT NULL DEFAULT now()
         )`,
      );
      await pool.query(`TRUNCATE ${table}`);
    } catch (err) {
      await pool.end();
      throw err;
    }
  }
  const insert = `INSERT INTO ${table} (type, ad, imp, ts, sig, user_agent) VALUES ($1, $2, $3, $4, $5, $6)`;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const type = path === '/impression' ? 'impression' : path === '/click' ? 'click' : undefined;
    if (type === undefined || req.method !== 'GET') {
      sendJson(res, 404, { error: { code: 'not_found', message: 'not found' } });
      return;
    }
    const row = parseEvent(type, q === -1 ? '' : url.slice(q + 1), req.headers['user-agent']);
    if (typeof row === 'string') {
      sendJson(res, 400, { error: { code: 'bad_request', message: row } });
      return;
    }
    try {
      await pool.query(insert, row);
    } catch (err) {
      const message = err instanceof Error && err.message !== '' ? err.message : 'database unavailable';
      sendJson(res, 503, { error: { code: 'unavailable', message } }, { 'cache-control': 'no-store' });
      return;
    }
    if (type === 'impression') {
      res.writeHead(200, PIXEL_HEADERS);
      res.end(PIXEL);
    } else {
      res.writeHead(302, REDIRECT_HEADERS);
      res.end();
    }
  }

  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    // handle() answers every fault itself; this catch is for a bug in it.
    handle(req, res).catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: { code: 'internal', message: 'internal error' } });
      else res.destroy();
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
  } catch (err) {
    await pool.end();
    throw err;
  }

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await pool.end();
    },
    async rowCount() {
      const result = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
      return Number(result.rows[0]?.n ?? 0);
    },
  };
}
