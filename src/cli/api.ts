import { watermarkOverPartitions } from '../aggregate/partition-watermark.js';
import { packDeltas } from '../aggregate/thread/protocol.js';
import type { ApiConfig } from '../config/cluster-config.js';
import { TopicEndOffsets } from '../log/kafka/kafka-end-offsets.js';
import { Metrics } from '../metrics/metrics.js';
import { pathOfUrl } from '../config/settings.js';
import { openServingStore, parseServingStoreUrl } from '../store/open-store.js';
import { PostgresDatabase } from '../store/postgres/postgres-database.js';
import { readRecentMinutes } from '../store/postgres/recent-minutes.js';
import { analyticsTmpDir, createAnalyticsRoutes } from '../web/analytics-routes.js';
import { createCatalogRoutes } from '../web/catalog-routes.js';
import { createDashboardRoutes } from '../web/dashboard-routes.js';
import { StaticFiles } from '../web/static-files.js';
import { StreamHub } from '../web/stream-hub.js';
import { createApiStream } from './api-stream.js';
import { createQueryRoutes } from '../web/query-routes.js';
import { createRequestHandler } from '../web/server.js';
import { followCatalog } from './catalog-follower.js';
import { committedPast } from './committed-past.js';
import { listen } from './listen.js';
import { openInOrder, type RunningProcess } from './running-process.js';

/** How often the api reads the partitions' checkpoints for the watermark it shows. */
const WATERMARK_REFRESH_MS = 200;

/** How long a `consistent=true` query waits for the workers to commit past what it must include. */
const CONSISTENT_WAIT_MS = 1_000;

/**
 * `adtally api`: the catalog and the query API of SPEC 3.2-3.3 over the
 * serving store the workers commit to, and the analytical SQL and export of
 * SPEC 3.5 over that store and the archive the workers write (a shared path). The watermark behind `final` is the
 * lowest over the topic's partitions that are not idle
 * (aggregate/partition-watermark.ts), read from their checkpoints.
 */
export function startApi(config: ApiConfig, print: (line: string) => void): Promise<RunningProcess> {
  return openInOrder(async (opened) => {
    const { kafka } = config;
    const metrics = new Metrics();
    const store = await openServingStore(config.store, { applicationName: 'adtally-api' });
    opened.push(() => store.close());
    const followed = await followCatalog(store, print);
    opened.push(() => followed.close());
    const { catalog } = followed;
    const endOffsets = TopicEndOffsets.open(kafka.bootstrap, kafka.topic);
    opened.push(() => endOffsets.close());
    // The live stream reads the recent cells on a pool of its own, so a slow read never queues queries.
    const location = parseServingStoreUrl(config.store);
    const streamDb =
      location.backend === 'postgres'
        ? await PostgresDatabase.open(location.url, { applicationName: 'adtally-api-stream' })
        : undefined;
    if (streamDb !== undefined) opened.push(() => streamDb.close());
    const hub = new StreamHub((ad) => catalog.adById(ad)?.advertiserId);
    opened.push(() => {
      hub.close();
      return Promise.resolve();
    });
    const stream =
      streamDb === undefined
        ? undefined
        : createApiStream({
            hub,
            catalog,
            read: (ads, fromMinute, limit) => readRecentMinutes(streamDb, ads, fromMinute, limit),
            watermark: () => watermark,
            allowedLatenessMs: config.allowedLatenessMs,
            now: () => Date.now(),
            onError: (err) => print(`adtally api: live stream read failed (${err.message}); watchers resync`),
          });
    if (stream !== undefined) hub.primeWith(() => stream.prime());
    let watermark: number | undefined;
    let watermarkError: Error | undefined;
    const refreshWatermark = async (): Promise<void> => {
      try {
        const [rows, hold] = await Promise.all([
          store.aggregates.listCheckpoints(`${kafka.topic}/`),
          store.aggregates.spillHold(),
        ]);
        const overPartitions = watermarkOverPartitions(rows, Date.now(), config.allowedLatenessMs);
        // Events a collector still holds in its spill log must not land in minutes shown final.
        const held = hold === undefined ? undefined : hold.sinceMs - config.allowedLatenessMs;
        watermark =
          overPartitions === undefined || held === undefined
            ? overPartitions
            : Math.min(overPartitions, held);
        watermarkError = undefined;
        stream?.checkpointsRead(rows);
      } catch (err) {
        watermarkError = err as Error;
      }
    };
    await refreshWatermark();
    const timer = setInterval(() => void refreshWatermark(), WATERMARK_REFRESH_MS);
    opened.push(() => {
      clearInterval(timer);
      return Promise.resolve();
    });
    const ui = await StaticFiles.load();
    let shuttingDown = false;
    const handler = createRequestHandler(
      {
        api: {
          catalogRoutes: createCatalogRoutes(catalog),
          queryRoutes: createQueryRoutes({
            catalog,
            store: store.aggregates,
            watermark: () => watermark,
            // Every event a collector acknowledged before the query is below the ends read now; an
            // event spilled while Kafka was away counts once forwarded.
            awaitAcknowledged: () =>
              committedPast(endOffsets, store.aggregates, kafka.topic, CONSISTENT_WAIT_MS),
            now: () => Date.now(),
          }),
          analyticsRoutes: createAnalyticsRoutes({
            catalog,
            minuteRows: (...args) => store.aggregates.minuteRows(...args).then(packDeltas),
            archiveRoot: pathOfUrl(config.archive),
            tmpDir: analyticsTmpDir(config.dataDir),
            limits: config.sql,
            now: () => Date.now(),
          }),
          catalog,
          adminToken: config.adminToken,
          // The workers commit in other processes: the stream follows their checkpoints (cli/api-stream.ts).
          dashboardRoutes: createDashboardRoutes(stream === undefined ? {} : { stream: hub }),
        },
        ...(ui === undefined ? {} : { ui }),
        metrics,
        moreMetrics: () => Promise.resolve(hub.metricsText()),
        readiness: {
          checks: {
            store: () => store.ping(),
            watermark: () =>
              watermarkError === undefined ? Promise.resolve() : Promise.reject(watermarkError),
          },
        },
      },
      () => shuttingDown,
    );
    const listening = await listen(handler, config.http.host, config.http.port);
    opened.push(async () => {
      shuttingDown = true;
      // Open event streams would hold the listener's close for its whole grace period.
      hub.close();
      await listening.close();
    });
    print(`adtally api: listening on ${listening.url}`);
    return listening.url;
  });
}
