import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'node:http';
import { describe, it } from 'node:test';
import {
  AdtallyProcess,
  CHROME_UA,
  TEST_ADMIN_TOKEN,
  TEST_SECRET,
  adminApi,
  makeDataDir,
  removeDir,
  runCli,
  tokenQuery,
} from './support/adtally-process.js';

describe('operations routes (SPEC 3.4)', () => {
  it('answers /healthz, /readyz and /metrics with ingest counts, latencies and log batches', async () => {
    const dataDir = makeDataDir();
    const server = await AdtallyProcess.start(dataDir);
    try {
      const { adIds } = await adminApi(server.url).seed(1);
      assert.deepEqual(await (await fetch(`${server.url}/healthz`)).json(), { status: 'ok' });
      const ready = await fetch(`${server.url}/readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(((await ready.json()) as { checks: unknown }).checks, {
        log: 'ok',
        store: 'ok',
        aggregation: 'ok',
        archive: 'ok',
      });
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          fetch(`${server.url}/click?${tokenQuery(adIds[0]!, `imp_metric_${String(i).padStart(3, '0')}`)}`, {
            redirect: 'manual',
            headers: { 'user-agent': CHROME_UA },
          }),
        ),
      );
      const text = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(text, /adtally_ingest_events_total\{type="click",outcome="ok"\} 20/);
      assert.match(text, /adtally_http_requests_total\{route="click",status="302"\} 20/);
      assert.match(text, /adtally_http_request_duration_seconds_bucket\{le="[^"]+",route="click"\}/);
      assert.match(text, /adtally_log_fsync_duration_seconds_count \d+/);
      assert.match(text, /adtally_log_append_duration_seconds_count 20/);
      assert.match(text, /adtally_log_batch_records_sum \d+/);
      assert.doesNotMatch(text, new RegExp(TEST_ADMIN_TOKEN));
    } finally {
      await server.stop();
      removeDir(dataDir);
    }
  });
});

describe('adtally serve lifecycle', () => {
  it('generates a secret and admin token once, kept 0600 in the data dir, printed at start', async () => {
    const dataDir = makeDataDir();
    try {
      const first = await AdtallyProcess.start(dataDir, { useTestSecrets: false });
      const token = /admin token (\S+)/.exec(first.log)?.[1];
      assert.ok(token !== undefined, first.log);
      assert.equal((await first.stop()).code, 0);
      const file = `${dataDir}/secrets.json`;
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const stored = JSON.parse(readFileSync(file, 'utf8')) as { adminToken: string; secret: string };
      assert.equal(stored.adminToken, token);
      const second = await AdtallyProcess.start(dataDir, { useTestSecrets: false });
      try {
        assert.ok(second.log.includes(token));
        const res = await fetch(`${second.url}/api/v1/ads`, {
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(res.status, 200);
      } finally {
        await second.stop();
      }
    } finally {
      removeDir(dataDir);
    }
  });

  it('on SIGTERM answers in-flight requests, keeps every answered click, and exits 0', async () => {
    const dataDir = makeDataDir();
    const server = await AdtallyProcess.start(dataDir);
    const { adIds } = await adminApi(server.url).seed(1);
    const agent = new Agent({ keepAlive: true, maxSockets: 32 });
    const click = (i: number): Promise<number> =>
      new Promise((done, fail) => {
        const req = request(
          `${server.url}/click?${tokenQuery(adIds[0]!, `imp_term_${String(i).padStart(5, '0')}`)}`,
          { agent, headers: { 'user-agent': CHROME_UA } },
          (res) => {
            res.resume();
            done(res.statusCode ?? 0);
          },
        );
        req.on('error', fail);
        req.end();
      });
    const answered: number[] = [];
    let next = 0;
    // 32 keep-alive clients clicking in a loop; SIGTERM lands while many requests are in flight.
    const worker = async (): Promise<void> => {
      for (;;) {
        const i = next++;
        try {
          assert.equal(await click(i), 302);
          answered.push(i);
        } catch (err) {
          // A request sent after the listener closed may be refused or reset; never answered with a 5xx.
          if (err instanceof assert.AssertionError) throw err;
          assert.ok(
            ['ECONNRESET', 'ECONNREFUSED', 'EPIPE'].includes((err as NodeJS.ErrnoException).code ?? ''),
            String(err),
          );
          return;
        }
      }
    };
    const pending = Array.from({ length: 32 }, worker);
    await new Promise((r) => setTimeout(r, 400));
    const answeredBeforeSignal = answered.length;
    server.child.kill('SIGTERM');
    await Promise.all(pending);
    agent.destroy();
    const exit = await server.exited;
    assert.equal(exit.code, 0, server.log);
    assert.match(server.log, /stopped/);
    assert.ok(
      answeredBeforeSignal > 0 && answered.length > answeredBeforeSignal,
      `${answered.length} answered`,
    );
    const { openFileEventLog } = await import('../src/log/file/file-event-log.js');
    const { decodeEvent } = await import('../src/domain/event.js');
    const log = await openFileEventLog(`${dataDir}/log`);
    const batch = await log.read(log.startOffset(), 1 << 24);
    const logged = new Set(batch.records.map((r) => decodeEvent(r.payload).imp));
    await log.close();
    for (const i of answered)
      assert.ok(logged.has(`imp_term_${String(i).padStart(5, '0')}`), `click ${i} answered but not logged`);
    removeDir(dataDir);
  });
});

describe('adtally CLI', () => {
  it('prints help for the program and for serve', async () => {
    const top = await runCli(['--help']);
    assert.equal(top.code, 0);
    assert.match(top.stdout, /serve/);
    const serve = await runCli(['serve', '--help']);
    assert.equal(serve.code, 0);
    for (const flag of ['--port', '--host', '--data-dir', '--log', '--dedup', '--store'])
      assert.ok(serve.stdout.includes(flag), flag);
  });

  const bad: [string[], Record<string, string>, RegExp][] = [
    [['serve', '--bogus'], {}, /bogus/],
    [['serve', '--port', 'eighty'], {}, /--port/],
    [['serve', '--log', 'kafka'], {}, /--log/],
    [['serve', '--store', 'mysql://db/x'], {}, /--store: unsupported scheme/],
    [['serve'], { ADTALLY_PORT: '99999' }, /ADTALLY_PORT/],
    [['frobnicate'], {}, /unknown command/],
  ];
  for (const [args, env, message] of bad) {
    it(`exits 2 with a one-line reason for ${args.join(' ')} ${JSON.stringify(env)}`, async () => {
      const result = await runCli(args, env);
      assert.equal(result.code, 2);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    });
  }

  it('exits 1 with the reason of a store the aggregation thread cannot open', async () => {
    const dataDir = makeDataDir();
    try {
      writeFileSync(join(dataDir, 'not-a-store.duckdb'), 'not a DuckDB file\n');
      const store = `duckdb:${join(dataDir, 'not-a-store.duckdb')}`;
      const result = await runCli(['serve', '--port', '0', '--data-dir', dataDir, '--store', store], {
        ADTALLY_SECRET: TEST_SECRET,
        ADTALLY_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^adtally: .*not a valid DuckDB database file/m);
      assert.doesNotMatch(result.stdout, /listening on/);
    } finally {
      removeDir(dataDir);
    }
  });

  it('exits 1 with a reason when the port is taken', async () => {
    const dataDir = makeDataDir();
    const secondDir = makeDataDir();
    const server = await AdtallyProcess.start(dataDir);
    try {
      const port = new URL(server.url).port;
      const result = await runCli(['serve', '--port', port, '--data-dir', secondDir]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /EADDRINUSE/);
    } finally {
      await server.stop();
      removeDir(dataDir);
      removeDir(secondDir);
    }
  });
});
