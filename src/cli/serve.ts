import type { AddressInfo } from 'node:net';
import { AggregationWorker } from '../aggregate/aggregation-worker.js';
import { Catalog } from '../catalog/catalog.js';
import { loadOrCreateSecrets } from '../config/data-dir-secrets.js';
import type { ServeConfig } from '../config/serve-config.js';
import { pathOfUrl } from '../config/settings.js';
import { EmbeddedDedup } from '../dedup/embedded-dedup.js';
import { Collector } from '../ingest/collector.js';
import { startLogRetention } from '../log/log-retention.js';
import { openEventLog } from '../log/open-event-log.js';
import { Metrics } from '../metrics/metrics.js';
import { DuckDbAggregateStore } from '../store/duckdb/duckdb-aggregate-store.js';
import { DEFAULT_MINUTE_INDEX } from '../store/minute-index/minute-index.js';
import { DuckDbCatalogStore } from '../store/duckdb/duckdb-catalog-store.js';
import { DuckDbDatabase } from '../store/duckdb/duckdb-database.js';
import { createCatalogRoutes } from '../web/catalog-routes.js';
import { createQueryRoutes } from '../web/query-routes.js';
import { createHttpServer, createRequestHandler } from '../web/server.js';
import { createTrackingRoutes } from '../web/tracking-routes.js';

/** A running `adtally serve`: what the CLI and in-process tests hold. */
export interface RunningServer {
  readonly url: string;
  readonly adminToken: string;
  /** Stops accepting, answers in-flight requests, flushes the log, closes the store. */
  shutdown(): Promise<void>;
}

/** How long in-flight requests get to finish on shutdown before their sockets are cut. */
const SHUTDOWN_GRACE_MS = 10_000;

/** Starts every part of the embedded pipeline in this process. */
export async function startServe(config: ServeConfig, print: (line: string) => void): Promise<RunningServer> {
  // Closers of what has been opened so far, run in reverse if a later step fails (port taken, bad store...).
  const opened: (() => Promise<void>)[] = [];
  try {
    return await startOpening(config, print, opened);
  } catch (err) {
    for (const close of opened.reverse()) await close().catch(() => undefined);
    throw err;
  }
}

async function startOpening(
  config: ServeConfig,
  print: (line: string) => void,
  opened: (() => Promise<void>)[],
): Promise<RunningServer> {
  const secrets = await loadOrCreateSecrets(config.dataDir, {
    secret: config.tokens.secret,
    adminToken: config.adminToken,
  });
  const secret = Buffer.from(secrets.secret, 'utf8');
  const metrics = new Metrics();
  const log = await openEventLog(config.backends.log, {
    segmentBytes: config.log.segmentBytes,
    observer: metrics,
  });
  opened.push(() => log.close());
  const db = await DuckDbDatabase.open(pathOfUrl(config.backends.store));
  opened.push(() => db.close());
  const now = (): number => Date.now();
  const store = await DuckDbCatalogStore.create(db);
  // Series over the last 26 hours are answered from memory once the stored hours are loaded (docs/ARCHITECTURE.md).
  const aggregates = await DuckDbAggregateStore.create(db, {
    minuteIndex: {
      ...DEFAULT_MINUTE_INDEX,
      now,
      onFailure: (err) =>
        console.error(`adtally: minute index off, series queries read the store: ${err.message}`),
    },
  });
  void aggregates.minuteIndexLoaded().then(({ hours, ms, failure }) => {
    if (failure === undefined && !db.closed) {
      print(`adtally: minute index loaded (${hours} hours read) in ${Math.round(ms)} ms`);
    }
  });
  const catalog = await Catalog.load(store);
  const collector = new Collector({
    log,
    lookupAd: (id) => catalog.adById(id),
    secret,
    clickTtlMs: config.tokens.clickTtlMs,
    now,
    metrics,
  });

  const worker = await AggregationWorker.start({
    log,
    store: aggregates,
    dedup: new EmbeddedDedup(aggregates),
    metrics,
    consumer: 'serve',
    allowedLatenessMs: config.allowedLatenessMs,
    clickTtlMs: config.tokens.clickTtlMs,
  });
  opened.push(() => worker.stop());
  // The worker is the log's only consumer so far; the archiver's offset joins the minimum when it exists.
  metrics.watchLogStorage(() => log.storage());
  const stopRetention = startLogRetention(log, {
    retentionMs: config.logRetention.ms,
    retentionBytes: config.logRetention.bytes,
    consumedBelow: () => worker.committedOffset(),
    now,
    observer: metrics,
  });
  opened.push(stopRetention);

  let shuttingDown = false;
  const handler = createRequestHandler(
    {
      tracking: createTrackingRoutes({
        catalog,
        collector,
        secret,
        clickTtlMs: config.tokens.clickTtlMs,
        now,
        metrics,
        publicHost: `${config.http.host}:${config.http.port}`,
      }),
      catalogRoutes: createCatalogRoutes(catalog),
      queryRoutes: createQueryRoutes({
        catalog,
        store: aggregates,
        watermark: () => worker.committedWatermark(),
        now,
      }),
      catalog,
      adminToken: secrets.adminToken,
      metrics,
      readiness: {
        checks: {
          log: () => log.check(),
          store: () => store.ping(),
          aggregation: () => worker.check(),
        },
      },
    },
    () => shuttingDown,
  );
  const server = createHttpServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.http.port, config.http.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  if (secrets.fromDataDir) print(`adtally: admin token ${secrets.adminToken} (kept in ${secrets.path})`);
  print(`adtally: listening on ${url}`);

  async function shutdown(): Promise<void> {
    if (shuttingDown) return;
    shuttingDown = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const forced = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
    await closed;
    clearTimeout(forced);
    // Reverse order of opening: the worker commits what it read, then the log and the store close.
    for (const close of opened.reverse()) await close();
  }
  return { url, adminToken: secrets.adminToken, shutdown };
}
