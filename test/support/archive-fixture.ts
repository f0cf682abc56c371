import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { archiveFileName, hourDir } from '../../src/archive/archive-layout.js';
import { sqlString } from '../../src/archive/archive-scan.js';
import { ARCHIVE_COLUMNS, type ArchivedEvent } from '../../src/archive/archive-schema.js';
import type { Outcome } from '../../src/domain/outcome.js';
import type { UserAgentClass } from '../../src/domain/user-agent.js';
import { writeArchiveFixture as writeArchivedEvents } from '../../src/reconcile/archive-fixture.js';

/**
 * Archive files written the way the archiver lays them out (archive-layout.ts),
 * by DuckDB's COPY ... TO parquet from rows a test chooses: SQL and export
 * tests need an archive before (and apart from) the archiver itself.
 */
export interface FixtureEvent {
  readonly offset: number;
  readonly type: 'impression' | 'click';
  readonly outcome: string;
  readonly eventTime: number;
  readonly ad: number;
  readonly campaign: number | null;
  readonly advertiser: number | null;
  readonly imp: string;
  readonly userAgent: string;
  readonly origin: string | null;
}

async function withDuckDb<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    return await work(connection);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

const IP_HASH = Buffer.from('a1b2c3d4e5f60718', 'hex');
const ts = (ms: number): string => sqlString(new Date(ms).toISOString().replace('T', ' ').replace('Z', ''));

/** The events as archive rows of partition 0, written by the one fixture writer (src/reconcile/archive-fixture.ts). */
export async function writeArchiveFixture(root: string, events: readonly FixtureEvent[]): Promise<void> {
  await writeArchivedEvents(
    root,
    events.map((e): ArchivedEvent => ({
      partition: 0,
      offset: e.offset,
      type: e.type,
      outcome: e.outcome as Outcome,
      eventTime: e.eventTime,
      receivedAt: e.eventTime + 3,
      tokenTs: Math.floor(e.eventTime / 1000) - 10,
      ad: e.ad,
      campaign: e.campaign ?? undefined,
      advertiser: e.advertiser ?? undefined,
      imp: e.imp,
      ipHash: IP_HASH,
      userAgent: e.userAgent as UserAgentClass,
      source: 'get',
      origin: e.origin ?? undefined,
    })),
  );
}

/**
 * `rows` generated events of one ad in one hour, written by DuckDB from
 * range() in a few seconds whatever their number: for the export memory
 * test. `userAgentBytes` pads each row so a CSV line is about that much
 * longer; row groups are kept small so a padded column chunk stays a few MB,
 * as a real archive's are (its user agent is a short class name).
 */
export async function writeLargeArchive(
  root: string,
  options: {
    ad: number;
    campaign: number;
    advertiser: number;
    hourMs: number;
    rows: number;
    userAgentBytes: number;
  },
): Promise<void> {
  const dir = hourDir(root, options.hourMs);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, archiveFileName({ partition: undefined, first: 0, last: options.rows - 1 }));
  const columns = ARCHIVE_COLUMNS.map(([column]) => `"${column}"`).join(', ');
  await withDuckDb((db) =>
    db.run(
      `COPY (SELECT ${columns} FROM (SELECT
          0::INTEGER AS "partition", i::BIGINT AS "offset",
          CASE WHEN i % 10 = 0 THEN 'click' ELSE 'impression' END AS type, 'ok' AS outcome,
          ${ts(options.hourMs)}::TIMESTAMP + to_milliseconds(i % 3600000) AS event_time,
          ${ts(options.hourMs)}::TIMESTAMP + to_milliseconds(i % 3600000 + 2) AS received_at,
          ${Math.floor(options.hourMs / 1000)}::BIGINT AS token_ts,
          ${options.ad}::BIGINT AS ad, ${options.campaign}::BIGINT AS campaign,
          ${options.advertiser}::BIGINT AS advertiser,
          'imp' || lpad(CAST(i AS VARCHAR), 12, '0') AS imp, md5(CAST(i AS VARCHAR))[1:16] AS ip_hash,
          repeat('m', ${options.userAgentBytes}) || CAST(i AS VARCHAR) AS user_agent, 'get' AS source,
          NULL::VARCHAR AS origin
        FROM range(${options.rows}) t(i)))
       TO ${sqlString(path)} (FORMAT parquet, ROW_GROUP_SIZE 16384)`,
    ),
  );
}
