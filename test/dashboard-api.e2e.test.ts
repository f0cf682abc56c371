import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  AdtallyProcess,
  CHROME_UA,
  TEST_ADMIN_TOKEN,
  adminApi,
  makeDataDir,
  removeDir,
  runCli,
  tokenQuery,
} from './support/adtally-process.js';
import { REPO_ROOT } from './support/browser.js';
import { readEventStream } from './support/event-stream.js';

/** The routes the dashboard adds to `adtally serve`: the page, /me, /stream and /plan (SPEC 3.5). */
describe('dashboard routes of adtally serve', () => {
  let dataDir: string;
  let server: AdtallyProcess;
  before(async () => {
    dataDir = makeDataDir();
    server = await AdtallyProcess.start(dataDir);
  });
  after(async () => {
    const stopping = performance.now();
    const stopped = await server.stop();
    console.log(`serve stopped in ${(performance.now() - stopping).toFixed(0)} ms`);
    // Open streams must not hold the shutdown: a clean exit 0.
    assert.equal(stopped.code, 0);
    removeDir(dataDir);
  });

  it('serves the built page at / under a policy that allows this origin only', async () => {
    const res = await fetch(`${server.url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await res.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.some((a) => a.endsWith('.js')));
    for (const asset of assets) {
      // Nothing from another host: every asset is a path of this origin (or an inline data: icon).
      assert.match(asset, /^(\/|data:|#)/, asset);
      if (asset.startsWith('/')) assert.equal((await fetch(`${server.url}${asset}`)).status, 200, asset);
    }
    const api404 = await fetch(`${server.url}/api/v1/nothing`);
    assert.equal(api404.status, 404);
    assert.equal(api404.headers.get('content-type'), 'application/json; charset=utf-8');
  });

  it('tells who a token is, and needs one for the stream', async () => {
    const { apiKey, advertiserId } = await adminApi(server.url).seed(1, 'Whoami');
    const me = await fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer ${apiKey}` } });
    assert.deepEqual(await me.json(), { kind: 'advertiser', advertiserId });
    assert.equal((await fetch(`${server.url}/api/v1/stream`)).status, 401);
    const bad = await fetch(`${server.url}/api/v1/stream`, { headers: { authorization: 'Bearer atk_nope' } });
    assert.equal(bad.status, 403);
  });

  it("streams a click's commit to its advertiser and the admin, never to another advertiser", async () => {
    const admin = adminApi(server.url);
    const mine = await admin.seed(1, 'Streamer');
    const theirs = await admin.seed(1, 'Other');
    const open = (token: string) =>
      fetch(`${server.url}/api/v1/stream`, { headers: { authorization: `Bearer ${token}` } });
    const [own, other, all] = await Promise.all([
      open(mine.apiKey),
      open(theirs.apiKey),
      open(TEST_ADMIN_TOKEN),
    ]);
    assert.equal(own.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const ad = mine.adIds[0]!;
    const seen = (text: string) => text.includes(`"ad":${ad},`);
    const reading = [readEventStream(own, seen), readEventStream(all, seen)];
    const click = await fetch(`${server.url}/click?${tokenQuery(ad, 'imp_stream_e2e_1')}`, {
      redirect: 'manual',
      headers: { 'user-agent': CHROME_UA },
    });
    assert.equal(click.status, 302);
    for (const text of await Promise.all(reading)) {
      const event = text.split('\n\n').find((block) => block.startsWith('event: commit') && seen(block));
      assert.ok(event !== undefined, text);
      const data = JSON.parse(event.slice(event.indexOf('data: ') + 6)) as {
        offset: number;
        changes: { ad: number; minute: string; counts: { clicks: number } }[];
      };
      const change = data.changes.find((c) => c.ad === ad)!;
      assert.equal(change.counts.clicks, 1);
      assert.equal(Date.parse(change.minute) % 60_000, 0);
      assert.ok(data.offset > 0);
    }
    // The other advertiser's stream got the hello and nothing about this ad.
    const otherText = await readEventStream(other, (t) => t.includes('event: hello'));
    await new Promise((r) => setTimeout(r, 300));
    assert.doesNotMatch(otherText, new RegExp(`"ad":${ad},`));
  });

  it('answers the lab with the same plan `adtally plan --json` prints', async () => {
    const query = 'events-per-second=20000&peak=60000&ads=50000&availability=0.999';
    const res = await fetch(`${server.url}/api/v1/plan?${query}`);
    assert.equal(res.status, 200);
    const page = (await res.json()) as { plan: unknown; figures: unknown };
    const cli = await runCli([
      'plan',
      '--events-per-second',
      '20000',
      '--peak',
      '60000',
      '--ads',
      '50000',
      '--availability',
      '0.999',
      '--results',
      join(REPO_ROOT, 'bench', 'results'),
      '--json',
    ]);
    assert.equal(cli.code, 0, cli.stderr);
    const printed = JSON.parse(cli.stdout) as { plan: unknown; figures: unknown };
    assert.deepEqual(page.plan, printed.plan);
    assert.deepEqual(page.figures, printed.figures);
    const bad = await fetch(`${server.url}/api/v1/plan?events-per-second=0`);
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: { message: string } }).error.message, /events-per-second/);
    assert.equal((await fetch(`${server.url}/api/v1/plan?events-per-second=1&results=/etc`)).status, 400);
  });
});
