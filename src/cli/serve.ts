import { AggregationThread } from '../aggregate/thread/aggregation-thread.js';
import { Catalog } from '../catalog/catalog.js';
import { loadOrCreateSecrets } from '../config/data-dir-secrets.js';
import type { ServeConfig } from '../config/serve-config.js';
import { pathOfUrl } from '../config/settings.js';
import { Collector } from '../ingest/collector.js';
import { FileEventAppender } from '../log/file/file-event-appender.js';
import { startLogRetention } from '../log/log-retention.js';
import { deleteArchiveHoursBefore } from '../archive/archive-files.js';
import { startDataRetention } from '../retention/data-retention.js';
import { openFollowedEventLog } from '../log/open-event-log.js';
import { Metrics } from '../metrics/metrics.js';
import { DEFAULT_MINUTE_INDEX, MinuteIndex } from '../store/minute-index/minute-index.js';
import { createAdminRoutes } from '../web/admin-routes.js';
import { analyticsTmpDir, createAnalyticsRoutes } from '../web/analytics-routes.js';
import { createCatalogRoutes } from '../web/catalog-routes.js';
import { createDashboardRoutes } from '../web/dashboard-routes.js';
import { StaticFiles } from '../web/static-files.js';
import { StreamHub } from '../web/stream-hub.js';
import { createQueryRoutes } from '../web/query-routes.js';
import { createRequestHandler } from '../web/server.js';
import { listen } from './listen.js';
import { createTrackingRoutes } from '../web/tracking-routes.js';

/** A running `adtally serve`: what the CLI and in-process tests hold. */
export interface RunningServer {
  readonly url: string;
  readonly adminToken: string;
  /** Stops accepting, answers in-flight requests, flushes the log, closes the store. */
  shutdown(): Promise<void>;
}

/** Test seams of `startServe`, never set by the CLI. */
export interface ServeTestHooks {
  /** Every aggregation commit blocks the aggregation thread this long (ms). */
  readonly commitStallMs?: number;
}

/** How long a `consistent=true` query waits for the aggregation to commit past what it must include. */
const CONSISTENT_WAIT_MS = 1_000;

/** Starts every part of the embedded pipeline in this process. */
export async function startServe(
  config: ServeConfig,
  print: (line: string) => void,
  hooks: ServeTestHooks = {},
): Promise<RunningServer> {
  // Closers of what has been opened so far, run in reverse if a later step fails (port taken, bad store...).
  const opened: (() => Promise<void>)[] = [];
  try {
    return await startOpening(config, print, opened, hooks);
  } catch (err) {
    for (const close of opened.reverse()) await close().catch(() => undefined);
    throw err;
  }
}

/**
 * The request thread holds the HTTP routes, the collector, the event log's
 * appends and the minute index; the aggregation thread (aggregate/thread/)
 * holds the aggregation worker and every DuckDB statement, so no commit,
 * appender or query of the store runs on the loop that answers clicks
 * (docs/ARCHITECTURE.md, "Two threads").
 */
async function startOpening(
  config: ServeConfig,
  print: (line: string) => void,
  opened: (() => Promise<void>)[],
  hooks: ServeTestHooks,
): Promise<RunningServer> {
  const secrets = await loadOrCreateSecrets(config.dataDir, {
    secret: config.tokens.secret,
    adminToken: config.adminToken,
  });
  const secret = Buffer.from(secrets.secret, 'utf8');
  const metrics = new Metrics();
  const archiveRoot = pathOfUrl(config.backends.archive);
  const { log, follow } = await openFollowedEventLog(config.backends.log, {
    segmentBytes: config.log.segmentBytes,
    observer: metrics,
  });
  opened.push(() => log.close());
  const now = (): number => Date.now();
  // Series over the last 26 hours are answered from memory on this thread (docs/ARCHITECTURE.md).
  const index = new MinuteIndex({
    ...DEFAULT_MINUTE_INDEX,
    now,
    onFailure: (err) =>
      console.error(`adtally: minute index off, series queries read the store: ${err.message}`),
  });
  let running = true;
  // The live stream's owners are looked up in the catalog, loaded once the thread is up.
  let ownerOf: (ad: number) => number | undefined = () => undefined;
  const stream = new StreamHub((ad) => ownerOf(ad));
  opened.push(() => {
    stream.close();
    return Promise.resolve();
  });
  const aggregation = await AggregationThread.start({
    config: {
      storePath: pathOfUrl(config.backends.store),
      consumer: 'serve',
      allowedLatenessMs: config.allowedLatenessMs,
      clickTtlMs: config.tokens.clickTtlMs,
      indexWindowHours: DEFAULT_MINUTE_INDEX.windowHours,
      reconcile: {
        dataDir: config.dataDir,
        graceMs: config.reconcileGraceMs,
      },
      ...(hooks.commitStallMs === undefined ? {} : { commitStallMs: hooks.commitStallMs }),
      archive: {
        root: archiveRoot,
        consumer: 'archive',
        rollIntervalMs: config.archive.rollIntervalMs,
        rollBytes: config.archive.rollBytes,
      },
    },
    follow,
    index,
    onIndexLoaded: ({ hours, ms, failure }) => {
      if (failure === undefined && running) {
        print(`adtally: minute index loaded (${hours} hours read) in ${Math.round(ms)} ms`);
      }
    },
    onCommitted: (commit) => stream.publish(commit),
    // Acknowledged events are in the log; a restart aggregates them. Going on would only hide the fault.
    onDied: (err) => {
      console.error(`adtally: the aggregation thread stopped (${err.message}); exiting, restart adtally`);
      process.exit(70);
    },
  });
  opened.push(async () => {
    running = false;
    await aggregation.stop();
  });
  const catalog = await Catalog.load(aggregation.catalogStore);
  ownerOf = (ad) => catalog.adById(ad)?.advertiserId;
  const ui = await StaticFiles.load();
  if (ui === undefined) print('adtally: the dashboard is not built (npm run build), / answers 404');
  const collector = new Collector({
    // One partition: the file log.
    log: new FileEventAppender(log),
    lookupAd: (id) => catalog.adById(id),
    secret,
    clickTtlMs: config.tokens.clickTtlMs,
    now,
    metrics,
  });

  // The log's consumers are the aggregation worker and the archiver: nothing either still needs is deleted.
  metrics.watchLogStorage(() => log.storage());
  const stopRetention = startLogRetention(log, {
    retentionMs: config.logRetention.ms,
    retentionBytes: config.logRetention.bytes,
    consumedBelow: () => Math.min(aggregation.committedOffset(), aggregation.archiveCommittedOffset()),
    now,
    observer: metrics,
  });
  opened.push(stopRetention);
  opened.push(
    startDataRetention({
      ages: config.retention,
      deleteArchiveHoursBefore: (hourMs) => deleteArchiveHoursBefore(archiveRoot, hourMs),
      deleteMinutesBefore: (minute) => aggregation.deleteMinutesBefore(minute),
      observer: metrics,
      now,
    }),
  );

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
        // Called per request, after listening: `url` (below) names the bound port.
        publicUrl: () => config.http.publicUrl ?? url,
        eventsInflightBytes: config.http.eventsInflightBytes,
      }),
      api: {
        catalogRoutes: createCatalogRoutes(catalog),
        queryRoutes: createQueryRoutes({
          catalog,
          store: aggregation.queries,
          watermark: () => aggregation.committedWatermark(),
          // Every event acknowledged before the query arrived is below the log's durable end now.
          awaitAcknowledged: () => aggregation.waitForCommitted(log.durableEnd(), CONSISTENT_WAIT_MS),
          now,
        }),
        // POST /api/v1/reconcile runs on the aggregation thread, next to the store it repairs.
        adminRoutes: createAdminRoutes({
          reconcile: (fromMinute, toMinute) => aggregation.reconcile(fromMinute, toMinute),
          now,
        }),
        // The minutes come from the store through the aggregation thread, packed (protocol.ts).
        analyticsRoutes: createAnalyticsRoutes({
          catalog,
          minuteRows: aggregation.minuteRowsPacked,
          archiveRoot,
          tmpDir: analyticsTmpDir(config.dataDir),
          limits: config.sql,
          now,
        }),
        catalog,
        adminToken: secrets.adminToken,
        dashboardRoutes: createDashboardRoutes({ stream }),
      },
      ...(ui === undefined ? {} : { ui }),
      metrics,
      moreMetrics: async () => `${await aggregation.metricsText()}\n${stream.metricsText()}`,
      readiness: {
        checks: {
          log: () => log.check(),
          store: () => aggregation.catalogStore.ping(),
          aggregation: () => aggregation.check(),
          archive: () => aggregation.checkArchive(),
        },
      },
    },
    () => shuttingDown,
  );
  const listening = await listen(handler, config.http.host, config.http.port);
  const url = listening.url;
  if (secrets.fromDataDir) print(`adtally: admin token ${secrets.adminToken} (kept in ${secrets.path})`);
  print(`adtally: listening on ${url}`);

  async function shutdown(): Promise<void> {
    if (shuttingDown) return;
    shuttingDown = true;
    // Open event streams would hold the listener's close for its whole grace period.
    stream.close();
    await listening.close();
    // Reverse order of opening: the worker commits what it read and the store closes, then the log.
    for (const close of opened.reverse()) await close();
  }
  return { url, adminToken: secrets.adminToken, shutdown };
}
