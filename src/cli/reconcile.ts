import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReconcileConfig } from '../config/reconcile-config.js';
import { pathOfUrl } from '../config/settings.js';
import { parseKafkaLogUrl } from '../log/kafka/kafka-url.js';
import { Archiver } from '../archive/archiver.js';
import { ParquetArchiveWriter } from '../archive/parquet-writer.js';
import { DEFAULT_ARCHIVE_ROLL_BYTES, DEFAULT_ARCHIVE_ROLL_INTERVAL_MS } from '../config/archive-settings.js';
import { openFileEventLog } from '../log/file/file-event-log.js';
import { ArchiveMetrics } from '../metrics/archive-metrics.js';
import { DuckDbCatalogStore } from '../store/duckdb/duckdb-catalog-store.js';
import { archiveCheckpointCoverage } from '../reconcile/archive-coverage.js';
import { serveConsumers, topicConsumers } from '../reconcile/consumers.js';
import { formatReport } from '../reconcile/reconcile-report.js';
import { ReconcileRunner, type ReconcileRun } from '../reconcile/reconcile-runner.js';
import type { ReconcileReport } from '../reconcile/reconcile.js';
import { DuckDbAggregateStore } from '../store/duckdb/duckdb-aggregate-store.js';
import { DuckDbDatabase } from '../store/duckdb/duckdb-database.js';
import { openServingStore, parseServingStoreUrl } from '../store/open-store.js';
import type { AggregateStore } from '../store/aggregate-store.js';

/** DuckDB admits one writing process: another one holding the file means a serve runs on it. */
const LOCKED = /Could not set lock|Conflicting lock/i;

/** The admin token for a running serve: the environment's, else the one serve generated into the data dir. */
async function adminTokenOf(config: ReconcileConfig): Promise<string> {
  if (config.adminToken !== undefined) return config.adminToken;
  const path = join(config.dataDir, 'secrets.json');
  try {
    const { adminToken } = JSON.parse(await readFile(path, 'utf8')) as { adminToken?: unknown };
    if (typeof adminToken === 'string') return adminToken;
  } catch {
    // Said below.
  }
  throw new Error(`no admin token: set ADTALLY_ADMIN_TOKEN or keep ${path}`);
}

/**
 * One POST with no client-side time limit (fetch gives up on an answer's
 * headers after 300 s, and a day of a busy archive can take longer): the
 * serve answers once the run is done.
 */
function post(url: string, token: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(
      url,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Asks the serve that holds the store to reconcile (POST /api/v1/reconcile), with the same report. */
async function reconcileRemotely(
  config: ReconcileConfig,
): Promise<{ report: ReconcileReport; file: string }> {
  const token = await adminTokenOf(config);
  const iso = (minute: number): string => new Date(minute * 60_000).toISOString();
  let answer: { status: number; text: string };
  try {
    answer = await post(
      `${config.url}/api/v1/reconcile`,
      token,
      JSON.stringify({ from: iso(config.fromMinute), to: iso(config.toMinute) }),
    );
  } catch (err) {
    throw new Error(
      `the store is in use by another process, and no serve answers at ${config.url} (${(err as Error).message}); pass --url`,
    );
  }
  let body: { report?: ReconcileReport; file?: string; error?: { message?: string } } = {};
  try {
    body = JSON.parse(answer.text) as typeof body;
  } catch {
    // Said below.
  }
  if (answer.status !== 200 || body.report === undefined) {
    throw new Error(`${config.url} answered ${answer.status}: ${body.error?.message ?? 'no report'}`);
  }
  return { report: body.report, file: body.file ?? '' };
}

/**
 * On a stopped serve's data dir, the archiver is run here first, up to the
 * log's end (Archiver.stop archives and commits everything durable): the
 * archive then covers whatever the aggregation counted. Opening the log takes
 * its lock, so no serve can start meanwhile.
 */
async function archiveToLogEnd(
  config: ReconcileConfig,
  db: DuckDbDatabase,
  store: AggregateStore,
): Promise<void> {
  if (config.log?.startsWith('file:') === false) return;
  const logDir = pathOfUrl(config.log ?? `file:${join(config.dataDir, 'log')}`);
  if (!existsSync(logDir)) return;
  const log = await openFileEventLog(logDir);
  const catalog = await DuckDbCatalogStore.create(db);
  const writer = await ParquetArchiveWriter.open();
  try {
    const archiver = await Archiver.start({
      log,
      store,
      loadAds: () => catalog.listAds(),
      writer,
      root: pathOfUrl(config.archive),
      consumer: serveConsumers().archiveConsumerOf(0),
      rollIntervalMs: DEFAULT_ARCHIVE_ROLL_INTERVAL_MS,
      rollBytes: DEFAULT_ARCHIVE_ROLL_BYTES,
      metrics: new ArchiveMetrics(),
    });
    await archiver.stop();
  } finally {
    writer.close();
    await log.close();
  }
}

/** Reconciles with the store and archive opened here: a stopped serve's data dir, or a PostgreSQL store. */
async function reconcileHere(
  config: ReconcileConfig,
  store: AggregateStore,
  scope: Pick<
    ConstructorParameters<typeof ReconcileRunner>[0],
    'consumerPrefix' | 'partitionOf' | 'ensureArchived'
  >,
): Promise<ReconcileRun> {
  const runner = new ReconcileRunner({
    ...scope,
    store,
    archiveRoot: pathOfUrl(config.archive),
    tempDir: join(config.dataDir, 'reconcile', 'tmp'),
    allowedLatenessMs: config.allowedLatenessMs,
    clickTtlMs: config.clickTtlMs,
    reportDir: join(config.dataDir, 'reconcile'),
  });
  return runner.run(config.fromMinute, config.toMinute);
}

/**
 * `adtally reconcile`: on a DuckDB store not held by a process, opens it and
 * reconciles here (the archiver's committed position must cover the
 * aggregation's); on one a serve holds, asks that serve; on PostgreSQL,
 * reconciles the topic's partitions here, waiting up to --archive-wait for
 * the workers' archivers. Prints the table; returns the exit status.
 */
export async function runReconcile(config: ReconcileConfig, print: (line: string) => void): Promise<number> {
  const location = parseServingStoreUrl(config.store);
  if (location.backend === 'duckdb') {
    if (!existsSync(location.path))
      throw new Error(`no serving store at ${location.path} (see --data-dir, --store)`);
    let db: DuckDbDatabase;
    try {
      db = await DuckDbDatabase.open(location.path);
    } catch (err) {
      if (!LOCKED.test((err as Error).message)) throw err;
      const { report, file } = await reconcileRemotely(config);
      print(formatReport(report, file));
      return 0;
    }
    try {
      const store = await DuckDbAggregateStore.create(db);
      await archiveToLogEnd(config, db, store);
      const consumers = serveConsumers();
      const run = await reconcileHere(config, store, {
        ...consumers,
        ensureArchived: archiveCheckpointCoverage(store, {
          consumerOf: consumers.archiveConsumerOf,
          waitMs: 0,
        }),
      });
      print(run.table);
      return 0;
    } finally {
      await db.close();
    }
  }
  const { topic } = parseKafkaLogUrl(config.log ?? '');
  const serving = await openServingStore(config.store, { applicationName: 'adtally-reconcile' });
  try {
    const consumers = topicConsumers(topic);
    const run = await reconcileHere(config, serving.aggregates, {
      ...consumers,
      ensureArchived: archiveCheckpointCoverage(serving.aggregates, {
        consumerOf: consumers.archiveConsumerOf,
        waitMs: config.archiveWaitMs,
      }),
    });
    print(run.table);
    return 0;
  } finally {
    await serving.close();
  }
}
