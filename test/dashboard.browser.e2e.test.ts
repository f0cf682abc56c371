import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import {
  AdtallyProcess,
  CHROME_UA,
  adminApi,
  makeDataDir,
  removeDir,
  tokenQuery,
} from './support/adtally-process.js';
import { REPO_ROOT, collectPageErrors, launchChromium, pastTraffic, signIn } from './support/browser.js';

interface Bucket {
  ts: string;
  impressions: number;
  clicks: number;
  ctr: number;
  final: boolean;
  invalid: Record<string, number>;
}

/** The advertiser dashboard in a real Chromium against a real `adtally serve` (SPEC 3.5, issue 11). */
describe('the dashboard in a browser', () => {
  let dataDir: string;
  let server: AdtallyProcess;
  let browser: Browser;
  let acme: Awaited<ReturnType<ReturnType<typeof adminApi>['seed']>>;
  let globex: Awaited<ReturnType<ReturnType<typeof adminApi>['seed']>>;

  before(async () => {
    dataDir = makeDataDir('adtally-browser-');
    server = await AdtallyProcess.start(dataDir);
    const admin = adminApi(server.url);
    acme = await admin.seed(2, 'Acme');
    globex = await admin.seed(1, 'Globex');
    const res = await fetch(`${server.url}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', 'user-agent': CHROME_UA },
      body: pastTraffic(
        [
          { ad: acme.adIds[0]!, seed: 'acme0', scale: 1 },
          { ad: acme.adIds[1]!, seed: 'acme1', scale: 0.4 },
          { ad: globex.adIds[0]!, seed: 'globex', scale: 0.7 },
        ],
        60,
      ),
    });
    assert.equal(res.status, 202, await res.text());
    // Every acknowledged event is in the counts before the page first asks.
    const caught = await fetch(`${server.url}/api/v1/top?consistent=true`, {
      headers: { authorization: `Bearer ${acme.apiKey}` },
    });
    assert.equal(caught.status, 200);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    removeDir(dataDir);
  });

  it('signs in with a key, shows its ads only, updates the current minute live, and downloads the CSV', async () => {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 1000 },
      acceptDownloads: true,
    });
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    await signIn(page, server.url, acme.apiKey);
    await page.waitForSelector('#ad-list tbody tr');
    const listed = await page.$$eval('#ad-list tbody tr', (rows) =>
      rows.map((r) => Number(r.getAttribute('data-ad'))),
    );
    assert.deepEqual(listed, acme.adIds);
    // The token is in sessionStorage, never in the URL.
    assert.doesNotMatch(page.url(), new RegExp(acme.apiKey));
    assert.equal(await page.evaluate(() => sessionStorage.getItem('adtally.token')), acme.apiKey);

    await page.waitForFunction(() => document.querySelector('#live')?.textContent === 'live: on');
    await page.waitForFunction(() => document.querySelector('#current-clicks') !== null);
    const before = Number(await page.textContent('#current-clicks'));
    const click = await fetch(`${server.url}/click?${tokenQuery(acme.adIds[0]!, 'imp_browser_live_1')}`, {
      redirect: 'manual',
      headers: { 'user-agent': CHROME_UA },
    });
    assert.equal(click.status, 302);
    const clicked = performance.now();
    // Pushed by /api/v1/stream: the page does not poll (its only timer is once a minute).
    await page.waitForFunction(
      (n) => Number(document.querySelector('#current-clicks')?.textContent) === n,
      before + 1,
      {
        timeout: 1_000,
      },
    );
    const liveMs = performance.now() - clicked;
    assert.ok(
      Number(await page.getAttribute('#live', 'data-commits')) >= 1,
      'the update came from a stream event',
    );
    console.log(`current minute updated ${liveMs.toFixed(0)} ms after the click's 302`);

    await page.selectOption('#granularity', 'hour');
    await page.waitForFunction(
      () => document.querySelector('#bucket-count')?.textContent?.endsWith('x hour') === true,
    );
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
    const csv = readFileSync(await download.path(), 'utf8')
      .trim()
      .split('\n');
    const header = csv[0]!.split(',');
    const rows = csv
      .slice(1)
      .map((line) => Object.fromEntries(line.split(',').map((v, i) => [header[i]!, v])));
    assert.ok(
      rows.length >= 1 && rows.length <= 2,
      'the last hour at hour granularity is one or two buckets',
    );
    const api = (await (
      await fetch(
        `${server.url}/api/v1/campaigns/${acme.campaignId}/aggregates?granularity=hour&from=${rows[0]!.ts}&to=${new Date(
          Date.parse(rows.at(-1)!.ts!) + 3_600_000,
        ).toISOString()}`,
        { headers: { authorization: `Bearer ${acme.apiKey}` } },
      )
    ).json()) as { series: Bucket[] };
    assert.equal(api.series.length, rows.length);
    api.series.forEach((bucket, i) => {
      const row = rows[i]!;
      assert.equal(row.subject, `campaign ${acme.campaignId}`);
      assert.equal(row.ts, bucket.ts);
      assert.equal(Number(row.impressions), bucket.impressions);
      assert.equal(Number(row.clicks), bucket.clicks);
      assert.equal(Number(row.invalid_duplicate), bucket.invalid.duplicate);
      assert.equal(Number(row.invalid_bad_signature), bucket.invalid.bad_signature);
    });
    assert.ok(rows.some((r) => Number(r.clicks) > 0));

    // The SQL console answers with rows, or with the server's message (404 where the batch layer is absent).
    await page.click('#sql-title ~ .row button');
    await page.waitForSelector('#sql-result table, #sql-result .status.error');
    const sqlError = await page.$('#sql-result .status.error');
    if (sqlError !== null) assert.match((await sqlError.textContent()) ?? '', /\S/);
    else assert.ok((await page.$$('#sql-result th')).length > 0);

    // Tenancy: nothing of Globex anywhere on Acme's page (its ads, its campaign, its name).
    const text = await page.textContent('body');
    assert.doesNotMatch(text ?? '', /Globex/);
    const options = await page.$$eval('#subject option', (o) => o.map((x) => (x as HTMLOptionElement).value));
    assert.ok(!options.includes(`ad:${globex.adIds[0]}`));
    assert.ok(!options.includes(`campaign:${globex.campaignId}`));
    // A 404 of the absent SQL route is logged by the browser as a failed resource: not a page error.
    assert.deepEqual(
      errors.filter((e) => !/404/.test(e)),
      [],
    );
    await context.close();
  });

  it('shows another advertiser only its own ads, and is usable on a phone-sized viewport', async () => {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    await signIn(page, server.url, globex.apiKey);
    await page.waitForSelector('#ad-list tbody tr');
    const listed = await page.$$eval('#ad-list tbody tr', (rows) =>
      rows.map((r) => Number(r.getAttribute('data-ad'))),
    );
    assert.deepEqual(listed, globex.adIds);
    await page.waitForFunction(() => document.querySelector('#total-clicks') !== null);
    assert.doesNotMatch((await page.textContent('body')) ?? '', /Acme/);
    // Nothing wider than the screen but the tables, which scroll inside their own box.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than the viewport`);
    // Every control has a label a screen reader announces.
    const unlabeled = await page.$$eval('select, input, textarea', (els) =>
      els
        .filter((el) => (el as HTMLInputElement).labels?.length === 0 && !el.getAttribute('aria-label'))
        .map((el) => el.id),
    );
    assert.deepEqual(unlabeled, []);
    // The keyboard alone changes what is shown: a focused select moves with the arrow keys.
    await page.focus('#granularity');
    await page.keyboard.press('ArrowDown');
    await page.waitForFunction(
      () => document.querySelector('#bucket-count')?.textContent?.endsWith('x hour') === true,
    );
    assert.deepEqual(errors, []);
    await context.close();
  });

  it('takes the screenshot shown in the README (docs/dashboard.png)', async () => {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      deviceScaleFactor: 1,
    });
    const page = await context.newPage();
    await signIn(page, server.url, acme.apiKey);
    await page.waitForFunction(() => document.querySelector('#live')?.textContent === 'live: on');
    await page.waitForSelector('#top-ads tr td');
    await page.waitForSelector('#traffic-chart canvas');
    await page.screenshot({ path: join(REPO_ROOT, 'docs', 'dashboard.png'), fullPage: true });
    await context.close();
  });
});
