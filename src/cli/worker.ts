import { deleteArchiveHoursBefore } from '../archive/archive-files.js';
import { ParquetArchiveWriter } from '../archive/parquet-writer.js';
import { startDataRetention } from '../retention/data-retention.js';
import type { WorkerConfig } from '../config/cluster-config.js';
import { pathOfUrl } from '../config/settings.js';
import { openDedupStore } from '../dedup/open-dedup-store.js';
import { openGroupConsumer } from '../log/kafka/kafka-group-consumer.js';
import { ensureTopic } from '../log/kafka/kafka-topic.js';
import { AggregationMetrics } from '../metrics/aggregation-metrics.js';
import { ArchiveMetrics } from '../metrics/archive-metrics.js';
import { Metrics } from '../metrics/metrics.js';
import { openServingStore } from '../store/open-store.js';
import { createRequestHandler } from '../web/server.js';
import { PartitionedAggregation } from '../worker/partitioned-aggregation.js';
import { PartitionedArchive } from '../worker/partitioned-archive.js';
import { DedupLossPolicy } from '../worker/dedup-loss-policy.js';
import { WorkerMetrics } from '../worker/worker-metrics.js';
import { archiveCheckpointCoverage } from '../reconcile/archive-coverage.js';
import { topicConsumers } from '../reconcile/consumers.js';
import { startReconcileService, type ReconcileService } from '../reconcile/reconcile-service.js';
import type { AggregateStore } from '../store/aggregate-store.js';
import { listen } from './listen.js';
import { openInOrder, type RunningProcess } from './running-process.js';

/**
 * Reconciliation of the topic's partitions (SPEC 4.5) by the member holding
 * partition 0: one member of the group runs it at a time, and the
 * assignment moves with the group. Each partition's archiver must have
 * committed past the cut; they roll every --archive-roll-interval, so a run
 * waits up to two of those (and fails, to be tried again the next minute).
 */
function startWorkerReconciliation(
  config: WorkerConfig,
  store: AggregateStore,
  aggregation: PartitionedAggregation,
  metrics: AggregationMetrics,
  print: (line: string) => void,
): ReconcileService {
  const consumers = topicConsumers(config.kafka.topic);
  return startReconcileService({
    store,
    archiveRoot: pathOfUrl(config.archive!.url),
    dataDir: config.dataDir,
    ...consumers,
    ensureArchived: archiveCheckpointCoverage(store, {
      consumerOf: consumers.archiveConsumerOf,
      waitMs: 2 * config.archive!.rollIntervalMs,
    }),
    allowedLatenessMs: config.allowedLatenessMs,
    clickTtlMs: config.clickTtlMs,
    graceMs: config.reconcileGraceMs,
    active: () => aggregation.held().includes(0),
    registry: metrics.registry,
    log: print,
  });
}

/**
 * `adtally worker`: one member of the Kafka consumer group that aggregates
 * the topic into the serving store (SPEC 5). Kafka assigns the partitions;
 * each is aggregated from its checkpoint in the store under an owner epoch
 * claimed at assignment (worker/partitioned-aggregation.ts). Serves only
 * /healthz, /readyz and /metrics.
 */
export function startWorker(config: WorkerConfig, print: (line: string) => void): Promise<RunningProcess> {
  return openInOrder(async (opened) => {
    const { kafka } = config;
    const store = await openServingStore(config.store, { applicationName: 'adtally-worker' });
    opened.push(() => store.close());
    const dedupStore = await openDedupStore(config.dedup);
    const dedup = new DedupLossPolicy(dedupStore, print);
    opened.push(() => dedup.close());
    dedup.noteStart(
      'createdInstance' in dedupStore && dedupStore.createdInstance === true,
      (await store.aggregates.listCheckpoints(`${kafka.topic}/`)).length > 0,
    );
    const aggregationMetrics = new AggregationMetrics();
    // Everything pushed from here on is closed before the consumer leaves the group (see the splice below).
    const consumersFrom = opened.length;
    const aggregation = new PartitionedAggregation({
      store: store.aggregates,
      dedup,
      metrics: aggregationMetrics,
      consumerPrefix: `${kafka.topic}/`,
      allowedLatenessMs: config.allowedLatenessMs,
      clickTtlMs: config.clickTtlMs,
      log: print,
    });
    // Closed before the consumer leaves the group: each partition commits what it read while it still owns it.
    opened.push(() => aggregation.close());
    const archiveMetrics = new ArchiveMetrics();
    let archive: PartitionedArchive | undefined;
    if (config.archive !== undefined) {
      const writer = await ParquetArchiveWriter.open();
      opened.push(() => Promise.resolve(writer.close()));
      archive = new PartitionedArchive({
        store: store.aggregates,
        loadAds: () => store.catalog.listAds(),
        writer,
        root: pathOfUrl(config.archive.url),
        topic: kafka.topic,
        rollIntervalMs: config.archive.rollIntervalMs,
        rollBytes: config.archive.rollBytes,
        metrics: archiveMetrics,
        log: print,
      });
      // Like the aggregation: each partition archives and commits what it read while it still owns it.
      opened.push(() => archive!.close());
    }
    // Workers may start before any collector made the topic; a partition count that differs is an error here too.
    await ensureTopic(kafka.bootstrap, kafka.topic, kafka.partitions);
    const consumer = await openGroupConsumer(
      {
        bootstrap: kafka.bootstrap,
        topic: kafka.topic,
        group: config.group,
        sessionTimeoutMs: config.sessionTimeoutMs,
      },
      (lease) => {
        aggregation.assign(lease);
        archive?.assign(lease);
      },
    );
    opened.splice(consumersFrom, 0, () => consumer.close());
    const metrics = new Metrics();
    const archiveRoot = config.archive === undefined ? undefined : pathOfUrl(config.archive.url);
    opened.push(
      startDataRetention({
        ages: config.retention,
        ...(archiveRoot === undefined
          ? {}
          : { deleteArchiveHoursBefore: (hourMs: number) => deleteArchiveHoursBefore(archiveRoot, hourMs) }),
        deleteMinutesBefore: (minute) => store.aggregates.deleteMinutesBefore(minute),
        observer: metrics,
      }),
    );
    const workerMetrics = new WorkerMetrics({
      lag: () => consumer.lag(),
      committedWatermark: () => aggregation.committedWatermark(),
      held: () => aggregation.held().length,
      dedupLosses: () => dedup.lossCount(),
    });
    let shuttingDown = false;
    const handler = createRequestHandler(
      {
        metrics,
        moreMetrics: async () =>
          [aggregationMetrics, workerMetrics, ...(archive === undefined ? [] : [archiveMetrics])]
            .map((m) => m.registry.metrics())
            .reduce(async (text, next) => `${await text}\n${await next}`, Promise.resolve('')),
        readiness: {
          checks: {
            store: () => store.ping(),
            dedup: () => dedup.check(),
            kafka: () => consumer.check(),
            aggregation: () => aggregation.check(),
            ...(archive === undefined ? {} : { archive: () => archive.check() }),
          },
        },
      },
      () => shuttingDown,
    );
    if (archive !== undefined && config.archive !== undefined) {
      const reconciliation = startWorkerReconciliation(
        config,
        store.aggregates,
        aggregation,
        aggregationMetrics,
        print,
      );
      opened.push(() => reconciliation.stop());
    }
    const listening = await listen(handler, config.http.host, config.http.port);
    opened.push(async () => {
      shuttingDown = true;
      await listening.close();
    });
    const archiving = config.archive === undefined ? 'no archive' : `archiving to ${config.archive.url}`;
    print(
      `adtally worker: group ${config.group} on ${kafka.topic} (${archiving}); listening on ${listening.url}`,
    );
    return listening.url;
  });
}
