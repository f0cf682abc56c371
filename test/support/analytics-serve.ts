import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { hourOf } from '../../src/archive/archive-layout.js';
import { sqlString } from '../../src/archive/archive-scan.js';
import {
  AdtallyProcess,
  CHROME_UA,
  adminApi,
  makeDataDir,
  removeDir,
  tokenQuery,
} from './adtally-process.js';
import { writeArchiveFixture, type FixtureEvent } from './archive-fixture.js';

/** Rows of a DuckDB query, as JSON values (bigints as strings), for comparisons. */
export async function duckRows(sql: string): Promise<unknown[][]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    return (await connection.runAndReadAll(sql)).getRowsJson();
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

export interface ErrorBody {
  error: { code: string; message: string };
}

export type Seeded = Awaited<ReturnType<ReturnType<typeof adminApi>['seed']>>;

export interface AnalyticsServe {
  readonly server: AdtallyProcess;
  readonly dataDir: string;
  readonly archive: string;
  /** Alpha (2 ads) and Beta (1 ad). */
  readonly a: Seeded;
  readonly b: Seeded;
  /** The fixture's archive rows: 12 events of each advertiser. */
  readonly events: readonly FixtureEvent[];
  /** Impressions sent per ad now, which the store's minutes (and the real archive) hold. */
  readonly sent: ReadonlyMap<number, number>;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * The fixture's hours, two days back: apart from the hour the real archiver
 * writes the impressions sent now into, so the fixture range reads the
 * fixture only.
 */
const fixtureStart = hourOf(Date.now() - 2 * DAY_MS);
export const FIXTURE_RANGE = {
  from: new Date(fixtureStart).toISOString(),
  to: new Date(fixtureStart + 3 * HOUR_MS).toISOString(),
};
/** The fixture's rows of the archive, without what the real archiver adds for the events sent now. */
export const FIXTURE_ONLY = `event_time < TIMESTAMP ${sqlString(FIXTURE_RANGE.to.replace('T', ' ').replace('Z', ''))}`;
/** The range of what is sent now: the store's minutes, and what the archiver writes of them. */
export const LIVE_RANGE = {
  from: new Date(Date.now() - HOUR_MS).toISOString(),
  to: new Date(Date.now() + 10 * 60_000).toISOString(),
};

/**
 * An `adtally serve` for one test file (small SQL limits, archive files rolled
 * every second), with two advertisers, impressions sent now and an archive
 * fixture of both in FIXTURE_RANGE, one event with a comma and quotes in a field.
 */
export function analyticsServePerFile(): { get(): AnalyticsServe } {
  let state: AnalyticsServe | undefined;
  before(async () => {
    const dataDir = makeDataDir('adtally-analytics-');
    const archive = join(dataDir, 'archive');
    const server = await AdtallyProcess.start(dataDir, {
      args: [
        ...['--sql-timeout', '2s', '--sql-row-limit', '1000', '--sql-materialise-rows', '5000'],
        ...['--archive-roll-interval', '1s'],
      ],
    });
    const api = adminApi(server.url);
    const a = await api.seed(2, 'Alpha');
    const b = await api.seed(1, 'Beta');
    const sent = new Map<number, number>([
      [a.adIds[0]!, 3],
      [a.adIds[1]!, 2],
      [b.adIds[0]!, 4],
    ]);
    for (const [ad, n] of sent) {
      for (let i = 0; i < n; i++) {
        const res = await fetch(`${server.url}/impression?${tokenQuery(ad, `imp-${ad}-${i}-abcdef`)}`, {
          headers: { 'user-agent': CHROME_UA },
        });
        assert.equal(res.status, 200);
        await res.arrayBuffer();
      }
    }
    const done = await api.call('GET', `/api/v1/ads/${b.adIds[0]}/aggregates?consistent=true`);
    assert.equal(done.status, 200);
    const events: FixtureEvent[] = [];
    let offset = 0;
    for (const who of [a, b]) {
      for (let i = 0; i < 12; i++) {
        const ad = who.adIds[i % who.adIds.length]!;
        events.push({
          offset: offset++,
          type: i % 3 === 0 ? 'click' : 'impression',
          outcome: i % 5 === 0 ? 'bot' : 'ok',
          eventTime: fixtureStart + i * 10 * 60_000 + who.advertiserId,
          ad,
          campaign: who.campaignId,
          advertiser: who.advertiserId,
          imp: `imp-${ad}-${i}-fixture`,
          userAgent: i === 1 ? 'Mozilla/5.0 (X11, "quoted")' : 'browser',
          origin: i === 2 ? 'collector-1/7' : null,
        });
      }
    }
    await writeArchiveFixture(archive, events);
    state = { server, dataDir, archive, a, b, events, sent };
  });
  after(async () => {
    if (state === undefined) return;
    await state.server.stop();
    removeDir(state.dataDir);
  });
  return {
    get() {
      if (state === undefined) throw new Error('the analytics serve did not start');
      return state;
    },
  };
}
