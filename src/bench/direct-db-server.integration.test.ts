import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import pg from 'pg';
import { startDirectDbServer } from './direct-db-server.js';

// The local PostgreSQL (trust auth); the variable lets another setup point elsewhere.
const DATABASE_URL = process.env.ADTALLY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const created: string[] = [];

/** A table name of this run only, dropped once the file is done. */
function uniqueTable(): string {
  const table = `direct_db_test_${randomBytes(6).toString('hex')}`;
  created.push(table);
  return table;
}

after(async () => {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    for (const table of created) await client.query(`DROP TABLE IF EXISTS ${table}`);
  } finally {
    await client.end();
  }
});

const QUERY = 'ad=7&imp=imp0001&ts=1700000000&sig=abc';

void test('200 concurrent clicks: each a 302 after its row is in, 200 rows', async () => {
  const server = await startDirectDbServer({ databaseUrl: DATABASE_URL, table: uniqueTable() });
  try {
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        fetch(`${server.url}/click?ad=${1 + (i % 5)}&imp=imp${i}&ts=1700000000&sig=s${i}`, {
          redirect: 'manual',
        }),
      ),
    );
    for (const res of responses) {
      assert.equal(res.status, 302);
      assert.equal(res.headers.get('location'), 'https://example.com/landing');
      await res.arrayBuffer();
    }
    assert.equal(await server.rowCount(), 200);
  } finally {
    await server.close();
  }
});

void test('an impression answers the 1x1 GIF; bad requests are 400 and write nothing', async () => {
  const server = await startDirectDbServer({ databaseUrl: DATABASE_URL, table: uniqueTable(), poolSize: 2 });
  try {
    const pixel = await fetch(`${server.url}/impression?${QUERY}`);
    assert.equal(pixel.status, 200);
    assert.equal(pixel.headers.get('content-type'), 'image/gif');
    assert.equal(
      Buffer.from(await pixel.arrayBuffer())
        .subarray(0, 6)
        .toString('latin1'),
      'GIF89a',
    );

    for (const query of [
      '',
      'imp=a&ts=1&sig=s',
      'ad=0&imp=a&ts=1&sig=s',
      'ad=1&ts=1&sig=s',
      'ad=1&imp=a&ts=x&sig=s',
    ]) {
      const res = await fetch(`${server.url}/click?${query}`, { redirect: 'manual' });
      assert.equal(res.status, 400, query);
      const body = (await res.json()) as { error: { code: string } };
      assert.equal(body.error.code, 'bad_request');
    }
    const unknown = await fetch(`${server.url}/nothing`);
    assert.equal(unknown.status, 404);
    await unknown.arrayBuffer();
    assert.equal(await server.rowCount(), 1);
  } finally {
    await server.close();
  }
});

void test('an unreachable database: 503 unavailable, and the server keeps serving', async () => {
  // Port 1 refuses at once; nothing at start touches the database.
  const server = await startDirectDbServer({
    databaseUrl: 'postgres://postgres@127.0.0.1:1/test',
    prepareTable: false,
    connectionTimeoutMillis: 1_000,
  });
  try {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${server.url}/click?${QUERY}`, { redirect: 'manual' });
      assert.equal(res.status, 503);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'unavailable');
      assert.ok(body.error.message.length > 0);
    }
    const bad = await fetch(`${server.url}/click?ad=x`, { redirect: 'manual' });
    assert.equal(bad.status, 400);
    await bad.arrayBuffer();
  } finally {
    await server.close();
  }
});

void test('start fails fast, pool closed, when the table cannot be prepared', async () => {
  await assert.rejects(
    startDirectDbServer({
      databaseUrl: 'postgres://postgres@127.0.0.1:1/test',
      connectionTimeoutMillis: 1_000,
    }),
  );
  await assert.rejects(startDirectDbServer({ databaseUrl: DATABASE_URL, table: 'x; DROP TABLE y' }), /table/);
});
