import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { archiveGlob } from '../src/archive/archive-layout.js';
import { sqlString } from '../src/archive/archive-scan.js';
import { TEST_ADMIN_TOKEN, type AdtallyProcess } from './support/adtally-process.js';
import {
  FIXTURE_ONLY as fixtureOnly,
  FIXTURE_RANGE,
  analyticsServePerFile,
  duckRows,
  type ErrorBody,
  type Seeded,
} from './support/analytics-serve.js';

const handle = analyticsServePerFile();

describe('export (SPEC 3.5) over HTTP', () => {
  const { from, to } = FIXTURE_RANGE;
  let server: AdtallyProcess;
  let dataDir: string;
  let archive: string;
  let a: Seeded;
  let b: Seeded;
  before(() => {
    ({ server, dataDir, archive, a, b } = handle.get());
  });

  const exportOf = (key: string, query: string) =>
    fetch(`${server.url}/api/v1/export?${query}`, { headers: { authorization: `Bearer ${key}` } });
  const range = `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
  const archiveRowsOf = (advertiser: number) =>
    duckRows(
      `SELECT * FROM read_parquet(${sqlString(archiveGlob(archive))}, hive_partitioning = false)
       WHERE advertiser = ${advertiser} AND ${fixtureOnly} ORDER BY "offset"`,
    );

  it("exports exactly the caller's archive rows as Parquet", async () => {
    for (const [key, query, advertiser] of [
      [a.apiKey, range, a.advertiserId],
      [TEST_ADMIN_TOKEN, `${range}&advertiser=${b.advertiserId}`, b.advertiserId],
    ] as const) {
      const res = await exportOf(key, `${query}&format=parquet`);
      assert.equal(res.status, 200);
      const file = join(dataDir, `export-${advertiser}.parquet`);
      writeFileSync(file, Buffer.from(await res.arrayBuffer()));
      const exported = await duckRows(`SELECT * FROM read_parquet(${sqlString(file)}) ORDER BY "offset"`);
      assert.equal(exported.length, 12);
      assert.deepEqual(exported, await archiveRowsOf(advertiser));
    }
    const all = await exportOf(TEST_ADMIN_TOKEN, `${range}&format=parquet`);
    const file = join(dataDir, 'export-all.parquet');
    writeFileSync(file, Buffer.from(await all.arrayBuffer()));
    assert.deepEqual(await duckRows(`SELECT count(*) FROM read_parquet(${sqlString(file)})`), [['24']]);
    // Nothing is left behind in the temporary directory.
    assert.deepEqual(
      await duckRows(`SELECT count(*) FROM glob(${sqlString(join(dataDir, 'tmp', 'analytics', '*'))})`),
      [['0']],
    );
  });

  it("exports exactly the caller's archive rows as CSV", async () => {
    const res = await exportOf(a.apiKey, `${range}&format=csv`);
    assert.equal(res.status, 200);
    const file = join(dataDir, 'export-a.csv');
    writeFileSync(file, await res.text());
    const columns = (await archiveRowsOf(a.advertiserId)).length;
    assert.equal(columns, 12);
    // Read back by DuckDB's own CSV reader, every column as text, against the archive's rows as text.
    const asText = `"partition"::VARCHAR, "offset"::VARCHAR, type, outcome,
      strftime(event_time, '%Y-%m-%dT%H:%M:%S.%gZ'), strftime(received_at, '%Y-%m-%dT%H:%M:%S.%gZ'),
      token_ts::VARCHAR, ad::VARCHAR, campaign::VARCHAR, advertiser::VARCHAR, imp, ip_hash, user_agent, source, origin`;
    const exported = await duckRows(
      `SELECT * FROM read_csv(${sqlString(file)}, header = true, all_varchar = true) ORDER BY "offset"::BIGINT`,
    );
    const archived = await duckRows(
      `SELECT ${asText} FROM read_parquet(${sqlString(archiveGlob(archive))}) WHERE advertiser = ${a.advertiserId} AND ${fixtureOnly} ORDER BY "offset"`,
    );
    assert.deepEqual(exported, archived);
    assert.ok(readFileSync(file, 'utf8').includes('"Mozilla/5.0 (X11, ""quoted"")"'));
  });

  it('validates the export request, and keeps advertisers to their own', async () => {
    for (const [key, query, status, message] of [
      [a.apiKey, `${range}&format=xlsx`, 400, /format must be csv or parquet/],
      [a.apiKey, 'from=soon', 400, /from must be an ISO 8601 instant/],
      [
        a.apiKey,
        `from=${encodeURIComponent(to)}&to=${encodeURIComponent(from)}`,
        400,
        /from must be before to/,
      ],
      [a.apiKey, 'from=2020-01-01T00:00:00Z&to=2021-01-01T00:00:00Z', 400, /at most 92 days/],
      [a.apiKey, `${range}&advertiser=${b.advertiserId}`, 404, /does not exist/],
      [a.apiKey, `${range}&advertiser=abc`, 400, /advertiser must be a positive integer/],
      [TEST_ADMIN_TOKEN, `${range}&advertiser=99999`, 404, /advertiser 99999 does not exist/],
    ] as const) {
      const res = await exportOf(key, query);
      assert.equal(res.status, status, query);
      assert.match(((await res.json()) as ErrorBody).error.message, message, query);
    }
    const own = await exportOf(a.apiKey, `${range}&advertiser=${a.advertiserId}`);
    assert.equal(own.status, 200);
    assert.equal((await own.text()).trimEnd().split('\r\n').length, 13);
  });
});
