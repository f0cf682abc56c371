import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeEvent, type TrackedEvent } from '../src/domain/event.js';
import { openFileEventLog } from '../src/log/file/file-event-log.js';
import {
  AdtallyProcess,
  CHROME_UA,
  TEST_SECRET,
  adminApi,
  makeDataDir,
  removeDir,
  tokenQuery,
} from './support/adtally-process.js';
import { hasValidSignature } from '../src/domain/token.js';

async function readLoggedEvents(dataDir: string): Promise<TrackedEvent[]> {
  const log = await openFileEventLog(`${dataDir}/log`);
  const events: TrackedEvent[] = [];
  let from = log.startOffset();
  for (;;) {
    const batch = await log.read(from, 1 << 20);
    if (batch.records.length === 0) break;
    for (const r of batch.records) events.push(decodeEvent(r.payload));
    from = batch.next;
  }
  await log.close();
  return events;
}

const statuses: number[] = [];
async function get(url: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(url, {
    redirect: 'manual',
    ...init,
    headers: { 'user-agent': CHROME_UA, ...(init.headers ?? {}) },
  });
  statuses.push(res.status);
  return res;
}

describe('tracking routes (SPEC 3.1) over HTTP', () => {
  let server: AdtallyProcess;
  let dataDir: string;
  let seeded: Awaited<ReturnType<ReturnType<typeof adminApi>['seed']>>;

  before(async () => {
    dataDir = makeDataDir();
    server = await AdtallyProcess.start(dataDir);
    seeded = await adminApi(server.url).seed(3, 'Track');
  });
  after(async () => {
    await server.stop();
    removeDir(dataDir);
  });

  it('GET /ad gives a fresh signed token and working URLs', async () => {
    const res = await get(`${server.url}/ad?campaign=${seeded.campaignId}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = (await res.json()) as {
      ad: number;
      imp: string;
      ts: number;
      sig: string;
      clickUrl: string;
      impressionUrl: string;
    };
    assert.ok(seeded.adIds.includes(body.ad));
    assert.match(body.imp, /^[A-Za-z0-9_-]{8,64}$/);
    assert.ok(Math.abs(body.ts - Date.now() / 1000) < 5);
    assert.equal(hasValidSignature(TEST_SECRET, body), true);
    const click = await get(body.clickUrl);
    assert.equal(click.status, 302);
    const pixel = await get(body.impressionUrl);
    assert.equal(pixel.status, 200);
  });

  it('GET /ad answers 404 for a campaign with no active ad and 400 for a malformed one', async () => {
    assert.equal((await get(`${server.url}/ad?campaign=999999`)).status, 404);
    assert.equal((await get(`${server.url}/ad?campaign=abc`)).status, 400);
  });

  it('GET /impression answers a 1x1 transparent GIF whatever the token', async () => {
    for (const query of [
      tokenQuery(seeded.adIds[0]!, 'imp_pixel_001'),
      'ad=1&imp=x&ts=1&sig=bad',
      '',
      'ad=999999',
    ]) {
      const res = await get(`${server.url}/impression?${query}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'image/gif');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const gif = Buffer.from(await res.arrayBuffer());
      assert.equal(gif.subarray(0, 6).toString(), 'GIF89a');
      assert.equal(gif.readUInt16LE(6), 1);
      assert.equal(gif.readUInt16LE(8), 1);
    }
  });

  it('GET /click redirects 302 to the catalog URL, whatever the token, never to a URL from the request', async () => {
    const ad = seeded.adIds[1]!;
    const target = `https://track.example/landing/1`;
    const queries = [
      tokenQuery(ad, 'imp_click_0001'),
      tokenQuery(ad, 'imp_click_0001'),
      `${tokenQuery(ad, 'imp_click_0002')}&url=https://evil.example&location=https://evil.example`,
      tokenQuery(ad, 'imp_click_0003', Math.floor(Date.now() / 1000), 'wrong-secret-0123456789'),
      tokenQuery(ad, 'imp_click_0004', Math.floor(Date.now() / 1000) - 2 * 86400),
      `ad=${ad}&imp=short&ts=x&sig=y`,
    ];
    for (const query of queries) {
      const res = await get(`${server.url}/click?${query}`);
      assert.equal(res.status, 302, query);
      assert.equal(res.headers.get('location'), target);
      assert.equal(res.headers.get('cache-control'), 'no-store');
    }
    const head = await get(`${server.url}/click?${tokenQuery(ad, 'imp_click_head')}`, { method: 'HEAD' });
    assert.equal(head.status, 302);
    const bot = await get(`${server.url}/click?${tokenQuery(ad, 'imp_click_bot1')}`, {
      headers: { 'user-agent': 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)' },
    });
    assert.equal(bot.status, 302);
    const prefetch = await get(`${server.url}/click?${tokenQuery(ad, 'imp_click_pref')}`, {
      headers: { 'sec-purpose': 'prefetch' },
    });
    // A speculation never gets the redirect (SPEC 3.1): test/http-hardening.e2e.test.ts.
    assert.equal(prefetch.status, 503);
  });

  it('GET /click answers 404 JSON for an unknown ad and 400 for a malformed ad id', async () => {
    const unknown = await get(`${server.url}/click?${tokenQuery(999999, 'imp_unknown_1')}`);
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'unknown_ad');
    for (const ad of ['', 'abc', '0', '-3', '99999999999']) {
      const res = await get(`${server.url}/click?ad=${ad}&imp=imp_00000000&ts=1&sig=x`);
      assert.equal(res.status, 400, `ad=${ad}`);
    }
  });

  it('follows a PATCHed target URL at once', async () => {
    const api = adminApi(server.url);
    const ad = seeded.adIds[2]!;
    await api.json('PATCH', `/api/v1/ads/${ad}`, { targetUrl: 'https://moved.example/new' });
    const res = await get(`${server.url}/click?${tokenQuery(ad, 'imp_moved_001')}`);
    assert.equal(res.headers.get('location'), 'https://moved.example/new');
  });

  it('POST /events accepts NDJSON, counts rejected lines, and answers 202', async () => {
    const ad = seeded.adIds[0]!;
    const ts = Math.floor(Date.now() / 1000);
    const { signToken } = await import('../src/domain/token.js');
    const lines = [
      JSON.stringify({ type: 'impression', ...signToken(TEST_SECRET, ad, 'imp_batch_0001', ts) }),
      JSON.stringify({
        type: 'click',
        ...signToken(TEST_SECRET, ad, 'imp_batch_0001', ts),
        at: Date.now() - 1000,
      }),
      JSON.stringify({ type: 'click', ...signToken('wrong-secret-0123456789', ad, 'imp_batch_0002', ts) }),
      '{"type":"click",',
      JSON.stringify({ type: 'view', ...signToken(TEST_SECRET, ad, 'imp_batch_0003', ts) }),
      JSON.stringify({ type: 'click', ...signToken(TEST_SECRET, 999999, 'imp_batch_0004', ts) }),
      JSON.stringify({
        type: 'click',
        ...signToken(TEST_SECRET, ad, 'imp_batch_0005', ts),
        at: Date.now() + 60_000,
      }),
      // Valid at its `at`, but its token expired before the line arrived: accepted, recorded as expired.
      JSON.stringify({
        type: 'click',
        ...signToken(TEST_SECRET, ad, 'imp_batch_0006', ts - 2 * 86_400),
        at: (ts - 2 * 86_400 + 3600) * 1000,
      }),
      '',
    ];
    const res = await get(`${server.url}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: lines.join('\n'),
    });
    assert.equal(res.status, 202);
    const body = (await res.json()) as { accepted: number; rejected: number; errors: { line: number }[] };
    assert.equal(body.accepted, 4);
    assert.equal(body.rejected, 4);
    assert.deepEqual(
      body.errors.map((e) => e.line),
      [4, 5, 6, 7],
    );
  });

  it('POST /events answers 413 over 1 MiB and keeps serving', async () => {
    const line = `${JSON.stringify({ type: 'click', ad: 1, imp: 'x'.repeat(40), ts: 1, sig: 'y'.repeat(43) })}\n`;
    const res = await get(`${server.url}/events`, {
      method: 'POST',
      body: line.repeat(Math.ceil((1024 * 1024 + 1) / line.length)),
    });
    assert.equal(res.status, 413);
    assert.equal((await get(`${server.url}/healthz`)).status, 200);
  });

  it('never answers 301 on any route', async () => {
    for (const path of [
      '/',
      '/click',
      '/impression',
      '/ad',
      '/events',
      '/healthz',
      '/readyz',
      '/metrics',
      '/api/v1/ads',
      '/click/',
      '//click',
    ]) {
      for (const method of ['GET', 'HEAD', 'POST']) await get(`${server.url}${path}`, { method });
    }
    assert.ok(statuses.length > 40);
    assert.equal(statuses.includes(301), false);
    assert.equal(statuses.includes(308), false);
  });

  it('records every event durably with its outcome, a hashed IP and no raw IP', async () => {
    await server.stop();
    const events = await readLoggedEvents(dataDir);
    const byImp = (imp: string) => events.filter((e) => e.imp === imp);
    assert.deepEqual(
      byImp('imp_click_0001').map((e) => e.outcome),
      ['ok', 'ok'],
    );
    assert.equal(byImp('imp_click_0003')[0]?.outcome, 'bad_signature');
    assert.equal(byImp('imp_click_0004')[0]?.outcome, 'expired');
    assert.equal(byImp('imp_click_head')[0]?.outcome, 'prefetch');
    assert.equal(byImp('imp_click_pref')[0]?.outcome, 'prefetch');
    assert.equal(byImp('imp_click_bot1')[0]?.outcome, 'bot');
    assert.equal(byImp('imp_click_bot1')[0]?.userAgent, 'bot');
    assert.equal(byImp('imp_unknown_1')[0]?.outcome, 'unknown_ad');
    assert.equal(byImp('imp_pixel_001')[0]?.type, 'impression');
    const batchClick = byImp('imp_batch_0001').find((e) => e.type === 'click');
    assert.equal(batchClick?.source, 'batch');
    assert.ok(batchClick !== undefined && batchClick.receivedAt - batchClick.eventTime >= 1000);
    assert.equal(byImp('imp_batch_0002')[0]?.outcome, 'bad_signature');
    assert.equal(byImp('imp_batch_0006')[0]?.outcome, 'expired');
    const ipHashes = new Set(events.map((e) => e.ipHash.toString('hex')));
    assert.equal(ipHashes.size, 1, 'one client, one hash');
    assert.ok(!events.some((e) => e.ipHash.includes(Buffer.from([127, 0, 0, 1]))));
    server = await AdtallyProcess.start(dataDir);
  });
});
