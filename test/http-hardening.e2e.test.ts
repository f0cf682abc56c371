import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { signToken } from '../src/domain/token.js';
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
import { abortMidBody, metricValue, rawGet, waitForMetric } from './support/http-probe.js';

const click = (base: string, query: string, headers: Record<string, string> = {}, method = 'GET') =>
  fetch(`${base}/click?${query}`, {
    method,
    redirect: 'manual',
    headers: { 'user-agent': CHROME_UA, ...headers },
  });
const clickSeries = (outcome: string): string =>
  `adtally_ingest_events_total{type="click",outcome="${outcome}"}`;
const postEvents = (base: string, body: string | Buffer): Promise<Response> =>
  fetch(`${base}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
/** No stack trace and no "request failed" report in serve's output. */
const assertNoStackTrace = (log: string): void => {
  assert.doesNotMatch(log, /request failed/);
  assert.doesNotMatch(log, /\n\s+at /);
};

describe('public HTTP hardening (default settings)', () => {
  let server: AdtallyProcess;
  let dataDir: string;
  let adId: number;

  before(async () => {
    dataDir = makeDataDir();
    server = await AdtallyProcess.start(dataDir);
    adId = (await adminApi(server.url).seed(1, 'Hard')).adIds[0]!;
  });
  after(async () => {
    await server.stop();
    removeDir(dataDir);
  });

  it('answers a speculative click 503 no-store without a Location, and counts it as prefetch', async () => {
    const before = await metricValue(server.url, clickSeries('prefetch'));
    const speculations: Record<string, string>[] = [
      { 'sec-purpose': 'prefetch' },
      { 'sec-purpose': 'prefetch;prerender' },
      { purpose: 'prefetch' },
    ];
    for (const [i, headers] of speculations.entries()) {
      const res = await click(server.url, tokenQuery(adId, `imp_spec_000${i}`), headers);
      assert.equal(res.status, 503, JSON.stringify(headers));
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(res.headers.get('location'), null);
      assert.equal(res.headers.get('retry-after'), null, 'the browser must drop the speculation, not retry');
      const body = (await res.json()) as { error: { code: string } };
      assert.equal(body.error.code, 'speculative_request');
    }
    // A HEAD is recorded as prefetch too, but answered like any invalid click.
    const head = await click(server.url, tokenQuery(adId, 'imp_spec_head'), {}, 'HEAD');
    assert.equal(head.status, 302);
    assert.equal(head.headers.get('location'), 'https://hard.example/landing/0');
    assert.equal(await metricValue(server.url, clickSeries('prefetch')), before + speculations.length + 1);
    // The person's real click that follows the speculation is the billable one.
    const okBefore = await metricValue(server.url, clickSeries('ok'));
    const real = await click(server.url, tokenQuery(adId, 'imp_spec_0000'));
    assert.equal(real.status, 302);
    assert.equal(await metricValue(server.url, clickSeries('ok')), okBefore + 1);
  });

  it('answers a speculative impression with its GIF, whatever the token', async () => {
    const res = await fetch(`${server.url}/impression?${tokenQuery(adId, 'imp_spec_pixel')}`, {
      headers: { 'user-agent': CHROME_UA, 'sec-purpose': 'prefetch;prerender' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/gif');
  });

  it('counts a client that resets mid-upload as 499, logs no stack trace, and keeps serving', async () => {
    await abortMidBody(server.url, '/events', { 'content-type': 'application/x-ndjson' }, 100_000, 5_000);
    assert.equal(
      await waitForMetric(server.url, 'adtally_http_requests_total{route="events",status="499"}', 1),
      1,
    );
    // A JSON route, which authenticates before it reads the body.
    await abortMidBody(
      server.url,
      '/api/v1/advertisers',
      { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      10_000,
      10,
    );
    assert.equal(
      await waitForMetric(server.url, 'adtally_http_requests_total{route="advertisers",status="499"}', 1),
      1,
    );
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.doesNotMatch(metrics, /adtally_http_requests_total\{route="[a-z_]+",status="500"\}/);
    assertNoStackTrace(server.log);
    const res = await postEvents(
      server.url,
      JSON.stringify({
        type: 'click',
        ...signToken(TEST_SECRET, adId, 'imp_after_abort', Math.floor(Date.now() / 1000)),
      }),
    );
    assert.equal(res.status, 202);
    assert.equal(((await res.json()) as { accepted: number }).accepted, 1);
  });

  it('answers 400 for a JSON or NDJSON body that is not UTF-8', async () => {
    const ts = Math.floor(Date.now() / 1000);
    const good = JSON.stringify({ type: 'click', ...signToken(TEST_SECRET, adId, 'imp_utf8_0001', ts) });
    const acceptedBefore = await metricValue(server.url, 'adtally_batch_lines_total{result="accepted"}');
    const ndjson = Buffer.concat([
      Buffer.from(`${good}\n{"type":"click","imp":"caf`),
      Buffer.from([0xe9]),
      Buffer.from('"}\n'),
    ]);
    const batch = await postEvents(server.url, ndjson);
    assert.equal(batch.status, 400);
    const batchError = ((await batch.json()) as { error: { code: string; message: string } }).error;
    assert.equal(batchError.code, 'invalid_utf8');
    assert.match(batchError.message, /line 2/);
    const catalog = await fetch(`${server.url}/api/v1/advertisers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      body: new Uint8Array(
        Buffer.concat([Buffer.from('{"name":"Caf'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]),
      ),
    });
    assert.equal(catalog.status, 400);
    assert.equal(((await catalog.json()) as { error: { code: string } }).error.code, 'invalid_utf8');
    // Nothing of the refused batch was taken, not even its valid first line.
    assert.equal(
      await metricValue(server.url, 'adtally_batch_lines_total{result="accepted"}'),
      acceptedBefore,
    );
  });

  it('records a click whose ts is not canonical decimal digits as bad_signature', async () => {
    const ts = Math.floor(Date.now() / 1000);
    const before = await metricValue(server.url, clickSeries('bad_signature'));
    // Signed over the canonical ts, so only the spelling of ts differs.
    const token = signToken(TEST_SECRET, adId, 'imp_ts_spelling', ts);
    const spellings = [`0${ts}`, `+${ts}`, `${ts}.0`, ` ${ts}`];
    for (const spelling of spellings) {
      const query = new URLSearchParams({ ad: String(adId), imp: token.imp, ts: spelling, sig: token.sig });
      const res = await click(server.url, query.toString());
      assert.equal(res.status, 302, spelling);
    }
    assert.equal(await metricValue(server.url, clickSeries('bad_signature')), before + spellings.length);
    const canonical = new URLSearchParams({
      ad: String(adId),
      imp: token.imp,
      ts: String(ts),
      sig: token.sig,
    });
    const okBefore = await metricValue(server.url, clickSeries('ok'));
    assert.equal((await click(server.url, canonical.toString())).status, 302);
    assert.equal(await metricValue(server.url, clickSeries('ok')), okBefore + 1);
  });

  it('rejects NDJSON lines whose ad, ts or at are strings, naming the field', async () => {
    const ts = Math.floor(Date.now() / 1000);
    const token = signToken(TEST_SECRET, adId, 'imp_ndjson_str', ts);
    const lines = [
      { type: 'click', ...token, ad: String(adId) },
      { type: 'click', ...token, ts: String(ts) },
      { type: 'click', ...token, at: String(Date.now()) },
      { type: 'click', ...token },
    ];
    const res = await postEvents(server.url, lines.map((l) => JSON.stringify(l)).join('\n'));
    assert.equal(res.status, 202);
    const body = (await res.json()) as { accepted: number; errors: { line: number; reason: string }[] };
    assert.equal(body.accepted, 1);
    assert.deepEqual(
      body.errors.map((e) => [e.line, /^(ad|ts|at) must be a JSON number$/.exec(e.reason)?.[1]]),
      [
        [1, 'ad'],
        [2, 'ts'],
        [3, 'at'],
      ],
    );
  });

  it('builds the GET /ad URLs from the listen address, never from a forged Host', async () => {
    const res = await rawGet(`${server.url}/ad`, { host: 'evil.example', 'user-agent': CHROME_UA });
    assert.equal(res.status, 200);
    const body = JSON.parse(res.body) as { clickUrl: string; impressionUrl: string };
    assert.ok(body.clickUrl.startsWith(`${server.url}/click?`), body.clickUrl);
    assert.ok(body.impressionUrl.startsWith(`${server.url}/impression?`), body.impressionUrl);
  });
});

describe('POST /events in-flight byte budget and --public-url', () => {
  const BUDGET = 2 * 1024 * 1024;
  const PUBLIC_URL = 'https://ads.example.com/t';
  let server: AdtallyProcess;
  let dataDir: string;
  let adId: number;

  before(async () => {
    dataDir = makeDataDir();
    server = await AdtallyProcess.start(dataDir, {
      args: ['--events-inflight-bytes', String(BUDGET), '--public-url', `${PUBLIC_URL}/`],
    });
    adId = (await adminApi(server.url).seed(1, 'Budget')).adIds[0]!;
  });
  after(async () => {
    await server.stop();
    removeDir(dataDir);
  });

  /** A body of just under 1 MiB: two valid lines around a line of padding. */
  const batch = (n: number): string => {
    const ts = Math.floor(Date.now() / 1000);
    const line = (k: number): string =>
      JSON.stringify({ type: 'click', ...signToken(TEST_SECRET, adId, `imp_budget_${n}_${k}`, ts) });
    const ends = `${line(0)}\n\n${line(1)}\n`;
    return `${line(0)}\n${' '.repeat(1024 * 1024 - ends.length - 16)}\n${line(1)}\n`;
  };

  it('answers 503 with Retry-After past the budget, every 202 right, and frees the budget after', async () => {
    const acceptedBefore = await metricValue(server.url, 'adtally_batch_lines_total{result="accepted"}');
    const results = await Promise.all(
      Array.from({ length: 24 }, async (_, n) => {
        const res = await postEvents(server.url, batch(n));
        return {
          status: res.status,
          retryAfter: res.headers.get('retry-after'),
          body: (await res.json()) as Record<string, unknown>,
        };
      }),
    );
    const accepted = results.filter((r) => r.status === 202);
    const refused = results.filter((r) => r.status === 503);
    assert.equal(
      accepted.length + refused.length,
      results.length,
      JSON.stringify(results.map((r) => r.status)),
    );
    assert.ok(accepted.length >= 1, 'at least the first batches fit');
    assert.ok(refused.length >= 1, 'a budget of two batches cannot take 24 at once');
    for (const r of refused) {
      assert.equal(r.retryAfter, '1');
      assert.equal((r.body as { error: { code: string } }).error.code, 'overloaded');
    }
    for (const r of accepted) assert.deepEqual(r.body, { accepted: 2, rejected: 0, errors: [] });
    assert.equal(
      await metricValue(server.url, 'adtally_batch_lines_total{result="accepted"}'),
      acceptedBefore + 2 * accepted.length,
    );
    // Everything settled: the whole budget is free again, for one batch after another.
    for (const n of [100, 101, 102]) {
      const res = await postEvents(server.url, batch(n));
      assert.equal(res.status, 202);
      assert.deepEqual(await res.json(), { accepted: 2, rejected: 0, errors: [] });
    }
    assertNoStackTrace(server.log);
  });

  it('builds the GET /ad URLs from --public-url, whatever the Host header says', async () => {
    for (const host of ['evil.example', 'ads.example.com:8443', undefined]) {
      const res = await rawGet(`${server.url}/ad`, host === undefined ? {} : { host });
      assert.equal(res.status, 200);
      const body = JSON.parse(res.body) as { clickUrl: string; impressionUrl: string };
      assert.ok(body.clickUrl.startsWith(`${PUBLIC_URL}/click?ad=${adId}&`), body.clickUrl);
      assert.ok(body.impressionUrl.startsWith(`${PUBLIC_URL}/impression?ad=${adId}&`), body.impressionUrl);
      // The URL works once the path prefix is taken off (a proxy in front would do it).
      const direct = new URL(body.clickUrl.replace(PUBLIC_URL, server.url));
      assert.equal((await click(server.url, direct.search.slice(1))).status, 302);
    }
  });
});

describe('adtally serve refuses a malformed --public-url', () => {
  const bad: [string[], Record<string, string>, RegExp][] = [
    [['--public-url', 'ads.example.com'], {}, /--public-url: .*not an absolute URL/],
    [['--public-url', 'ftp://ads.example.com'], {}, /--public-url: expected an http or https URL/],
    [[], { ADTALLY_PUBLIC_URL: 'https://ads.example.com/?x=1' }, /ADTALLY_PUBLIC_URL: must not have a query/],
    [['--events-inflight-bytes', '4096'], {}, /--events-inflight-bytes: must be at least 1048576/],
  ];
  for (const [args, env, message] of bad) {
    it(`exits 2 with a one-line reason for ${JSON.stringify(args)} ${JSON.stringify(env)}`, async () => {
      const dataDir = makeDataDir();
      try {
        const result = await runCli(['serve', '--port', '0', '--data-dir', dataDir, ...args], env);
        assert.equal(result.code, 2, result.stderr);
        assert.match(result.stderr, message);
        assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      } finally {
        removeDir(dataDir);
      }
    });
  }
});
