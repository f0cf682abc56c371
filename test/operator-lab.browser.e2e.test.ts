import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  AdtallyProcess,
  CHROME_UA,
  TEST_ADMIN_TOKEN,
  adminApi,
  makeDataDir,
  removeDir,
  tokenQuery,
} from './support/adtally-process.js';
import { REPO_ROOT, collectPageErrors, launchChromium, signIn } from './support/browser.js';

/** Waits until the operator's notice says something matching `pattern`, and returns it. */
async function notice(page: Page, pattern: RegExp): Promise<string> {
  await page.waitForFunction(
    (source) => new RegExp(source).test(document.querySelector('#operator-notice')?.textContent ?? ''),
    pattern.source,
  );
  return (await page.textContent('#operator-notice')) ?? '';
}

/** The operator view and the lab, in Chromium against a real `adtally serve` (issue 11). */
describe('the operator view and the lab in a browser', () => {
  let dataDir: string;
  let server: AdtallyProcess;
  let browser: Browser;

  before(async () => {
    dataDir = makeDataDir('adtally-browser-op-');
    server = await AdtallyProcess.start(dataDir);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    removeDir(dataDir);
  });

  it('creates an advertiser, campaign and ad, pauses the ad and rotates the key, with the admin token', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 1000 } })).newPage();
    const errors = collectPageErrors(page);
    await signIn(page, server.url, TEST_ADMIN_TOKEN, '#/operator');
    await page.waitForSelector('#new-advertiser');
    await page.fill('#new-advertiser input[name=name]', 'Initech');
    await page.click('#new-advertiser button[type=submit]');
    const created = await notice(page, /API key \(shown once\): atk_/);
    const firstKey = /(atk_\S+)/.exec(created)![1]!;
    const advertiserId = Number(/Advertiser (\d+) created/.exec(created)![1]);

    await page.selectOption('#new-campaign select[name=advertiserId]', String(advertiserId));
    await page.fill('#new-campaign input[name=name]', 'Initech launch');
    await page.click('#new-campaign button[type=submit]');
    const campaignId = Number(/Campaign (\d+) created/.exec(await notice(page, /Campaign \d+ created/))![1]);
    await page.waitForSelector(`#new-ad select[name=campaignId] option[value="${campaignId}"]`, {
      state: 'attached',
    });
    await page.selectOption('#new-ad select[name=campaignId]', String(campaignId));
    await page.fill('#new-ad input[name=name]', 'TPS banner');
    await page.fill('#new-ad input[name=targetUrl]', 'https://initech.example/tps');
    await page.click('#new-ad button[type=submit]');
    const adId = Number(/Ad (\d+) created/.exec(await notice(page, /Ad \d+ created/))![1]);

    const asAdvertiser = (key: string) =>
      fetch(`${server.url}/api/v1/ads`, { headers: { authorization: `Bearer ${key}` } });
    const ads = (await (await asAdvertiser(firstKey)).json()) as {
      id: number;
      active: boolean;
      targetUrl: string;
    }[];
    assert.deepEqual(
      ads.map((a) => [a.id, a.active, a.targetUrl]),
      [[adId, true, 'https://initech.example/tps']],
    );

    await page.click(`[data-toggle="${adId}"]`);
    await notice(page, new RegExp(`Ad ${adId} is paused`));
    await page.waitForSelector(`[data-toggle="${adId}"]:text("Resume")`);
    const paused = (await (await asAdvertiser(firstKey)).json()) as { active: boolean }[];
    assert.equal(paused[0]!.active, false);

    await page.click(`[data-rotate="${advertiserId}"]`);
    const rotated = await notice(page, /New API key of Initech/);
    const secondKey = /(atk_\S+)/.exec(rotated)![1]!;
    assert.notEqual(secondKey, firstKey);
    assert.equal((await asAdvertiser(firstKey)).status, 403);
    assert.equal((await asAdvertiser(secondKey)).status, 200);
    assert.deepEqual(errors, []);
  });

  it('shows the pipeline health from /metrics: ingest by outcome, latencies, the stream', async () => {
    const { adIds } = await adminApi(server.url).seed(1, 'Healthy');
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 1000 } })).newPage();
    await signIn(page, server.url, TEST_ADMIN_TOKEN, '#/operator');
    await page.waitForSelector('#health-ingest');
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${server.url}/click?${tokenQuery(adIds[0]!, `imp_health_${i}_xxxx`)}`, {
        redirect: 'manual',
        headers: { 'user-agent': CHROME_UA },
      });
      assert.equal(res.status, 302);
    }
    const bot = await fetch(`${server.url}/click?${tokenQuery(adIds[0]!, 'imp_health_bot_x')}`, {
      redirect: 'manual',
      headers: { 'user-agent': 'Googlebot/2.1 (+http://www.google.com/bot.html)' },
    });
    assert.equal(bot.status, 302);
    // The next scrape holds them: a row per (type, outcome) with its total.
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#health-ingest tbody tr')].some(
        (tr) => tr.textContent?.startsWith('clickok') === true && tr.children[2]?.textContent === '5',
      ),
    );
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#health-ingest tbody tr')].some((tr) =>
        tr.textContent?.startsWith('clickbot'),
      ),
    );
    await page.waitForFunction(() => /ms$/.test(document.querySelector('#health-fsync')?.textContent ?? ''));
    assert.equal(await page.textContent('#health-ready'), 'yes');
    assert.match((await page.textContent('#health-dedup')) ?? '', /^\d[\d,]*$/);
    assert.match((await page.textContent('#health-streams')) ?? '', /^\d+$/);
  });

  it("refuses the operator view to an advertiser's key", async () => {
    const { apiKey } = await adminApi(server.url).seed(1, 'Nosy');
    const page = await (await browser.newContext()).newPage();
    await signIn(page, server.url, apiKey, '#/operator');
    await page.waitForSelector('text=The operator view needs the admin token.');
    assert.equal(await page.$('#new-advertiser'), null);
    assert.deepEqual(await page.$$eval('#nav a', (links) => links.map((a) => a.textContent)), [
      'Dashboard',
      'Lab',
    ]);
  });

  it('answers a load in the lab with the shape, each step naming its figure, and takes docs/lab.png', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    const errors = collectPageErrors(page);
    await page.goto(`${server.url}/#/lab`);
    await page.waitForSelector('#lab-steps li');
    assert.match((await page.textContent('#lab-shape')) ?? '', /^One adtally serve/);
    await page.fill('#lab-events-per-second', '150000');
    await page.fill('#lab-peak', '400000');
    await page.fill('#lab-availability', '0.999');
    await page.waitForFunction(() =>
      /collectors/.test(document.querySelector('#lab-shape')?.textContent ?? ''),
    );
    const plan = (await (
      await fetch(`${server.url}/api/v1/plan?events-per-second=150000&peak=400000&availability=0.999`)
    ).json()) as {
      plan: { processes: { collectors: number; workers: number }; steps: { figure?: string }[] };
    };
    const shape = (await page.textContent('#lab-shape')) ?? '';
    assert.match(shape, new RegExp(`^${plan.plan.processes.collectors} collectors`));
    assert.match(shape, new RegExp(`${plan.plan.processes.workers} workers`));
    const steps = await page.$$eval('#lab-steps li', (items) => items.map((li) => li.textContent ?? ''));
    assert.equal(steps.length, plan.plan.steps.length);
    plan.plan.steps.forEach((step, i) => {
      if (step.figure !== undefined) assert.match(steps[i]!, new RegExp(step.figure), steps[i]);
    });
    // A bad input gets the parser's own message.
    await page.fill('#lab-events-per-second', '-5');
    await page.waitForSelector('#lab-result .status.error');
    assert.match((await page.textContent('#lab-result')) ?? '', /events-per-second/);
    await page.fill('#lab-events-per-second', '150000');
    await page.waitForSelector('#lab-steps li');
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await page.screenshot({ path: join(REPO_ROOT, 'docs', 'lab.png'), fullPage: true });
    assert.deepEqual(
      errors.filter((e) => !/status of 400/.test(e)),
      [],
    );
  });
});
