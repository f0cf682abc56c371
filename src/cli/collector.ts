import type { CollectorConfig } from '../config/cluster-config.js';
import { Collector } from '../ingest/collector.js';
import { pathOfUrl } from '../config/settings.js';
import { openFileEventLog } from '../log/file/file-event-log.js';
import { openEventAppender } from '../log/open-event-log.js';
import { collectorIdentity } from '../log/spill/collector-identity.js';
import { ForwardPosition } from '../log/spill/forward-position.js';
import { SpillingAppender } from '../log/spill/spilling-appender.js';
import type { ProduceObserver } from '../log/kafka/kafka-event-appender.js';
import { TopicEndOffsets } from '../log/kafka/kafka-end-offsets.js';
import { CollectorMetrics } from '../metrics/collector-metrics.js';
import { Metrics } from '../metrics/metrics.js';
import type { AggregateStore } from '../store/aggregate-store.js';
import { openServingStore } from '../store/open-store.js';
import { createRequestHandler } from '../web/server.js';
import { createTrackingRoutes } from '../web/tracking-routes.js';
import { followCatalog } from './catalog-follower.js';
import { committedPast } from './committed-past.js';
import { listen } from './listen.js';
import { openInOrder, type RunningProcess } from './running-process.js';

/**
 * Kafka, with the collector's local file log to spill to when Kafka does not
 * take an event within the deadline (log/spill/spilling-appender.ts).
 */
async function openSpillingAppender(
  config: CollectorConfig,
  holds: AggregateStore,
  endOffsets: TopicEndOffsets,
  produceObserver: ProduceObserver,
  print: (line: string) => void,
): Promise<SpillingAppender> {
  const spillDir = pathOfUrl(config.spillLog);
  const origin = await collectorIdentity(config.dataDir);
  const spill = await openFileEventLog(spillDir);
  try {
    const position = await ForwardPosition.open(spillDir);
    const primary = await openEventAppender(config.log, { produceObserver });
    return await SpillingAppender.open({
      primary,
      spill,
      position,
      origin,
      deadlineMs: config.produceDeadlineMs,
      hold: (sinceMs) => holds.setSpillHold(origin, sinceMs),
      committedAll: async () => {
        if (!(await committedPast(endOffsets, holds, config.kafka.topic, 5_000))) {
          throw new Error('the workers have not committed the forwarded events yet');
        }
      },
      log: print,
    });
  } catch (err) {
    await spill.close();
    throw err;
  }
}

/**
 * `adtally collector`: the tracking routes alone (SPEC 5), stateless, many
 * behind a load balancer. Each event is answered once Kafka acknowledged it
 * (acks=all). The catalog's ads are held in memory and reloaded on every
 * change another process makes.
 */
export function startCollector(
  config: CollectorConfig,
  print: (line: string) => void,
): Promise<RunningProcess> {
  return openInOrder(async (opened) => {
    const metrics = new Metrics();
    const store = await openServingStore(config.store, { applicationName: 'adtally-collector' });
    opened.push(() => store.close());
    const followed = await followCatalog(store, print);
    opened.push(() => followed.close());
    const { catalog } = followed;
    const collectorMetrics = new CollectorMetrics();
    const endOffsets = TopicEndOffsets.open(config.kafka.bootstrap, config.kafka.topic);
    opened.push(() => endOffsets.close());
    const log = await openSpillingAppender(config, store.aggregates, endOffsets, collectorMetrics, print);
    collectorMetrics.watchSpill(() => log.state());
    opened.push(() => log.close());
    const secret = Buffer.from(config.secret, 'utf8');
    const now = (): number => Date.now();
    const collector = new Collector({
      log,
      lookupAd: (id) => catalog.adById(id),
      secret,
      clickTtlMs: config.clickTtlMs,
      now,
      metrics,
    });
    let shuttingDown = false;
    let url = '';
    const handler = createRequestHandler(
      {
        tracking: createTrackingRoutes({
          catalog,
          collector,
          secret,
          clickTtlMs: config.clickTtlMs,
          now,
          metrics,
          publicUrl: () => config.publicUrl ?? url,
          eventsInflightBytes: config.eventsInflightBytes,
        }),
        metrics,
        moreMetrics: () => collectorMetrics.registry.metrics(),
        readiness: {
          checks: { log: () => log.check(), store: () => store.ping() },
          degraded: () => ({ log: log.degraded() }),
        },
      },
      () => shuttingDown,
    );
    const listening = await listen(handler, config.http.host, config.http.port);
    url = listening.url;
    opened.push(async () => {
      shuttingDown = true;
      await listening.close();
    });
    print(`adtally collector: listening on ${url}`);
    return url;
  });
}
