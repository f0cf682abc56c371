import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { archiveGlob } from '../src/archive/archive-layout.js';
import { sqlString } from '../src/archive/archive-scan.js';
import type { FixtureEvent } from './support/archive-fixture.js';
import { TEST_ADMIN_TOKEN, type AdtallyProcess } from './support/adtally-process.js';
import {
  FIXTURE_ONLY as fixtureOnly,
  FIXTURE_RANGE,
  LIVE_RANGE as live,
  analyticsServePerFile,
  duckRows,
  type ErrorBody,
  type Seeded,
} from './support/analytics-serve.js';

const handle = analyticsServePerFile();

describe('analytical SQL (SPEC 3.5) over HTTP', () => {
  const { from, to } = FIXTURE_RANGE;
  let server: AdtallyProcess;
  let dataDir: string;
  let archive: string;
  let a: Seeded;
  let b: Seeded;
  let events: readonly FixtureEvent[];
  let sent: ReadonlyMap<number, number>;
  before(() => {
    ({ server, dataDir, archive, a, b, events, sent } = handle.get());
  });

  const sql = (
    key: string,
    text: string,
    format = 'json',
    range: { from?: string; to?: string } = { from, to },
  ) =>
    fetch(`${server.url}/api/v1/sql${format === 'json' ? '' : `?format=${format}`}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sql: text, ...range }),
    });
  const rowsOf = async (key: string, text: string, range = { from, to }): Promise<unknown[][]> => {
    const res = await sql(key, text, 'json', range);
    const body = (await res.json()) as { rows: unknown[][] } & Partial<ErrorBody>;
    assert.equal(res.status, 200, `${text}: ${JSON.stringify(body.error)}`);
    return body.rows;
  };

  it('answers a SELECT as {columns, types, rows} over minutes and events', async () => {
    const res = await sql(
      TEST_ADMIN_TOKEN,
      'SELECT ad, sum(impressions) AS n FROM minutes GROUP BY ad ORDER BY ad',
      'json',
      live,
    );
    assert.equal(res.status, 200);
    const body = (await res.json()) as { columns: string[]; types: string[]; rows: [number, number][] };
    assert.deepEqual(body.columns, ['ad', 'n']);
    assert.deepEqual(body.types, ['BIGINT', 'HUGEINT']);
    assert.deepEqual(
      body.rows,
      [...sent].sort(([x], [y]) => x - y),
    );
    const campaigns = await rowsOf(
      TEST_ADMIN_TOKEN,
      'SELECT campaign, advertiser, sum(impressions)::INTEGER FROM minutes GROUP BY ALL ORDER BY campaign',
      live,
    );
    assert.deepEqual(campaigns, [
      [a.campaignId, a.advertiserId, 5],
      [b.campaignId, b.advertiserId, 4],
    ]);
    const perAdvertiser = await rowsOf(
      TEST_ADMIN_TOKEN,
      'SELECT advertiser, count(*)::INTEGER, count(DISTINCT hour)::INTEGER > 0 FROM events GROUP BY 1 ORDER BY 1',
    );
    assert.deepEqual(perAdvertiser, [
      [a.advertiserId, 12, true],
      [b.advertiserId, 12, true],
    ]);
  });

  it('bounds the views by from/to, and refuses a bad range', async () => {
    const none = await sql(TEST_ADMIN_TOKEN, 'SELECT count(*) FROM events', 'json', {
      from: '2020-01-01T00:00:00Z',
      to: '2020-01-02T00:00:00Z',
    });
    assert.deepEqual(((await none.json()) as { rows: unknown[][] }).rows, [[0]]);
    for (const [range, message] of [
      [{ from: 'yesterday', to }, /from must be an ISO 8601 instant/],
      [{ from: to, to: from }, /from must be before to/],
      [{ from: '2020-01-01T00:00:00Z', to: '2021-01-01T00:00:00Z' }, /at most 31 days/],
    ] as const) {
      const res = await sql(TEST_ADMIN_TOKEN, 'SELECT 1', 'json', range);
      assert.equal(res.status, 400);
      assert.match(((await res.json()) as ErrorBody).error.message, message);
    }
  });

  it('refuses every escape attempt with a clear 400 (or 408 past the time limit), and keeps serving', async () => {
    const outside = join(dataDir, 'outside.parquet');
    await duckRows(`COPY (SELECT 42 AS secret) TO ${sqlString(outside)} (FORMAT parquet)`);
    const copyTarget = join(archive, 'stolen.csv');
    const attempts: [string, string, number, RegExp][] = [
      ['read a system file', "SELECT * FROM read_csv('/etc/passwd')", 400, /Permission Error.*\/etc\/passwd/],
      ['read a file as text', "SELECT * FROM read_text('/etc/hostname')", 400, /Permission Error/],
      [
        'read Parquet outside the archive',
        `SELECT * FROM read_parquet(${sqlString(outside)})`,
        400,
        /Permission Error/,
      ],
      ['list files', "SELECT * FROM glob('/*')", 400, /Permission Error/],
      [
        'attach a database',
        `ATTACH ${sqlString(join(dataDir, 'adtally.duckdb'))} AS store`,
        400,
        /Permission Error|only a SELECT/,
      ],
      [
        'copy into the archive',
        `COPY (SELECT 1) TO ${sqlString(copyTarget)}`,
        400,
        /only a SELECT .*COPY|Permission Error/,
      ],
      ['install an extension', 'INSTALL httpfs', 400, /Permission Error|only a SELECT/],
      ['load an extension', 'LOAD httpfs', 400, /Permission Error|only a SELECT/],
      ['change a setting', 'SET enable_external_access = true', 400, /locked|only a SELECT/],
      ['change threads by pragma', 'PRAGMA threads = 8', 400, /locked|only a SELECT/],
      ['reset the lock', 'RESET lock_configuration', 400, /locked|only a SELECT/],
      ['create a table', 'CREATE TABLE t AS SELECT 1', 400, /only a SELECT .*CREATE/],
      ['insert', 'INSERT INTO minutes (ad) VALUES (1)', 400, /only a SELECT .*INSERT/],
      ['several statements', 'SELECT 1; SELECT 2', 400, /exactly one statement; this text holds 2/],
      [
        'a statement hidden after a comment',
        'SELECT 1; /* x */ DROP TABLE minutes',
        400,
        /exactly one statement/,
      ],
      [
        'a non-SELECT through query()',
        "SELECT * FROM query('CREATE TABLE x AS SELECT 1')",
        400,
        /Parser Error/,
      ],
      ['a parameter', 'SELECT $1', 400, /parameters/],
      ['no such function', "SELECT getenv('HOME')", 400, /getenv/],
      ['a syntax error', 'SELEC 1', 400, /Parser Error/],
      [
        'a recursive CTE that never ends',
        'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r',
        408,
        /time limit of 2000 ms \(--sql-timeout\)/,
      ],
      [
        'the events crossed with themselves',
        'SELECT * FROM events x, events y, events z',
        400,
        /more than 1000 rows \(the row limit, --sql-row-limit\)/,
      ],
      [
        'a cross join counted',
        'SELECT sum(a."offset" + b."offset" * c."offset" - d."offset" + e."offset" * f."offset" + g."offset") ' +
          'FROM events a, events b, events c, events d, events e, events f, events g',
        408,
        /time limit/,
      ],
    ];
    for (const [name, text, status, message] of attempts) {
      for (const key of [TEST_ADMIN_TOKEN, a.apiKey]) {
        // The advertiser's 12 rows, crossed 7 times, are counted well within the time limit.
        if (key === a.apiKey && name === 'a cross join counted') continue;
        const res = await sql(key, text);
        const body = (await res.json()) as ErrorBody;
        assert.equal(
          res.status,
          status,
          `${name} (${key === a.apiKey ? 'advertiser' : 'admin'}): ${JSON.stringify(body)}`,
        );
        assert.match(body.error.message, message, name);
      }
    }
    // The admin may read the archive, so only the SELECT-only rule stops a COPY into it.
    const copy = await sql(TEST_ADMIN_TOKEN, `COPY (SELECT 1) TO ${sqlString(copyTarget)}`);
    assert.match(
      ((await copy.json()) as ErrorBody).error.message,
      /only a SELECT statement is allowed .*COPY/,
    );
    assert.equal(existsSync(copyTarget), false);
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await rowsOf(a.apiKey, 'SELECT 40 + 2'), [[42]]);
  });

  it('refuses malformed requests with a precise 400', async () => {
    const post = (body: string, query = '') =>
      fetch(`${server.url}/api/v1/sql${query}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body,
      });
    for (const [body, query, status, message] of [
      ['{}', '', 400, /sql must be a non-empty string/],
      ['{"sql": "  "}', '', 400, /sql must be a non-empty string/],
      ['{"sql": "SELECT 1", "limit": 3}', '', 400, /unknown field\(s\): limit/],
      ['{"sql": "SELECT 1", "from": 3}', '', 400, /from must be an ISO 8601 instant/],
      ['{"sql": "SELECT 1"}', '?format=xml', 400, /format must be json, csv or parquet/],
      ['not json', '', 400, /not valid JSON/],
      [JSON.stringify({ sql: `SELECT '${'x'.repeat(70_000)}'` }), '', 413, /exceeds 65536 bytes/],
    ] as const) {
      const res = await post(body, query);
      assert.equal(res.status, status, body.slice(0, 40));
      assert.match(((await res.json()) as ErrorBody).error.message, message);
    }
    const anonymous = await fetch(`${server.url}/api/v1/sql`, { method: 'POST', body: '{"sql":"SELECT 1"}' });
    assert.equal(anonymous.status, 401);
  });

  it("never returns another advertiser's rows to an advertiser, whatever the statement says", async () => {
    const mine = new Set(a.adIds);
    assert.deepEqual(await rowsOf(a.apiKey, 'SELECT DISTINCT advertiser FROM events'), [[a.advertiserId]]);
    assert.deepEqual(await rowsOf(a.apiKey, 'SELECT DISTINCT advertiser FROM minutes', live), [
      [a.advertiserId],
    ]);
    const ads = await rowsOf(
      a.apiKey,
      'SELECT DISTINCT ad FROM events UNION SELECT DISTINCT ad FROM minutes',
    );
    assert.ok(
      ads.every(([ad]) => mine.has(ad as number)),
      JSON.stringify(ads),
    );
    assert.deepEqual(
      await rowsOf(
        a.apiKey,
        `SELECT count(*) FROM events WHERE advertiser = ${b.advertiserId} OR ad = ${b.adIds[0]}`,
      ),
      [[0]],
    );
    assert.deepEqual(await rowsOf(a.apiKey, 'SELECT count(*) FROM events'), [[12]]);
    // Only the sandbox's own two tables exist: nothing else to name or list.
    assert.deepEqual(await rowsOf(a.apiKey, 'SELECT table_name FROM information_schema.tables ORDER BY 1'), [
      ['events'],
      ['minutes'],
    ]);
    assert.deepEqual(
      await rowsOf(a.apiKey, 'SELECT database_name, table_name FROM duckdb_tables() ORDER BY 2'),
      [
        ['memory', 'events'],
        ['memory', 'minutes'],
      ],
    );
    assert.deepEqual(await rowsOf(a.apiKey, 'SELECT count(*) FROM duckdb_databases() WHERE NOT internal'), [
      [1],
    ]);
    for (const [text, message] of [
      ['SELECT ad FROM events UNION ALL SELECT ad FROM agg_minute', /agg_minute does not exist/],
      ['SELECT * FROM events WHERE ad IN (SELECT ad FROM agg_minute)', /agg_minute does not exist/],
      ['SELECT * FROM store.agg_minute', /store/],
      ['SELECT * FROM main.ads', /ads does not exist/],
      [
        `SELECT * FROM read_parquet(${sqlString(archiveGlob(archive))}, hive_partitioning = true)`,
        /Permission Error/,
      ],
      [`SELECT * FROM ${sqlString(archiveGlob(archive))}`, /Permission Error/],
    ] as const) {
      const res = await sql(a.apiKey, text);
      assert.equal(res.status, 400, text);
      assert.match(((await res.json()) as ErrorBody).error.message, message, text);
    }
    // The admin reads the archive itself.
    assert.deepEqual(
      await rowsOf(
        TEST_ADMIN_TOKEN,
        `SELECT count(*) FROM read_parquet(${sqlString(archiveGlob(archive))}) WHERE ${fixtureOnly}`,
      ),
      [[24]],
    );
  });

  it('reads what the real archiver wrote of the events sent, each advertiser its own', async () => {
    const byAdvertiser = `SELECT advertiser, type, outcome, count(*)::INTEGER FROM events GROUP BY ALL ORDER BY 1`;
    const deadline = Date.now() + 20_000;
    let rows = await rowsOf(TEST_ADMIN_TOKEN, byAdvertiser, live);
    while (
      JSON.stringify(rows) !==
      JSON.stringify([
        [a.advertiserId, 'impression', 'ok', 5],
        [b.advertiserId, 'impression', 'ok', 4],
      ])
    ) {
      if (Date.now() > deadline) assert.fail(`the archive holds ${JSON.stringify(rows)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      rows = await rowsOf(TEST_ADMIN_TOKEN, byAdvertiser, live);
    }
    assert.deepEqual(await rowsOf(a.apiKey, byAdvertiser, live), [[a.advertiserId, 'impression', 'ok', 5]]);
    assert.deepEqual(await rowsOf(b.apiKey, byAdvertiser, live), [[b.advertiserId, 'impression', 'ok', 4]]);
    // The archive's events and the store's minutes agree for the advertiser's own ads.
    assert.deepEqual(
      await rowsOf(
        a.apiKey,
        `SELECT e.ad, e.n = m.n FROM (SELECT ad, count(*) AS n FROM events GROUP BY ad) e
         JOIN (SELECT ad, sum(impressions) AS n FROM minutes GROUP BY ad) m USING (ad) ORDER BY 1`,
        live,
      ),
      a.adIds.map((ad) => [ad, true]),
    );
  });

  it('answers as CSV and as Parquet', async () => {
    const text = `SELECT "offset", imp, user_agent, origin FROM events ORDER BY "offset" LIMIT 3`;
    const csv = await sql(a.apiKey, text, 'csv');
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
    const mine = events.filter((e) => e.advertiser === a.advertiserId).slice(0, 3);
    const field = (v: string | null): string =>
      v === null ? '' : /[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
    assert.equal(
      await csv.text(),
      [
        'offset,imp,user_agent,origin',
        ...mine.map((e) =>
          [e.offset, e.imp, e.userAgent, e.origin].map((v) => field(v === null ? null : String(v))).join(','),
        ),
      ]
        .map((line) => `${line}\r\n`)
        .join(''),
    );
    const parquet = await sql(
      a.apiKey,
      'SELECT ad, count(*) AS n, min(event_time) AS first FROM events GROUP BY ad ORDER BY ad',
      'parquet',
    );
    assert.equal(parquet.status, 200);
    assert.equal(parquet.headers.get('content-type'), 'application/vnd.apache.parquet');
    const file = join(dataDir, 'answer.parquet');
    writeFileSync(file, Buffer.from(await parquet.arrayBuffer()));
    assert.deepEqual(
      await duckRows(`SELECT ad, n FROM read_parquet(${sqlString(file)}) ORDER BY ad`),
      a.adIds.map((ad) => [String(ad), '6']),
    );
  });
});
