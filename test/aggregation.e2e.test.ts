import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AdtallyProcess,
  TEST_ADMIN_TOKEN,
  adminApi,
  makeDataDir,
  removeDir,
} from './support/adtally-process.js';
import {
  FIELDS,
  MINUTE_MS,
  OTHER_SECRET,
  Oracle,
  Traffic,
  addInto,
  apiGet,
  countsOfBucket,
  isoMinute,
  metricValue,
  minuteOf,
  pollUntil,
  sumBuckets,
  zeroCounts,
  type ApiBucket,
  type Counts,
  type SeriesAnswer,
} from './support/traffic.js';

const UNKNOWN_AD = 999_999;
const TWO_DAYS_SEC = 2 * 86_400;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const nowSec = (): number => Math.floor(Date.now() / 1000);
const ctrOf = (clicks: number, impressions: number): number => (impressions === 0 ? 0 : clicks / impressions);

interface TopAnswer {
  from: string;
  to: string;
  by: string;
  ads: { ad: number; impressions: number; clicks: number; ctr: number }[];
}

/** Checks what every series answer must satisfy: its range, every bucket present, totals and ctr. */
function checkSeriesShape(
  answer: SeriesAnswer,
  granularity: 'minute' | 'hour' | 'day',
  fromMinute: number,
  toMinute: number,
): void {
  const step = { minute: 1, hour: 60, day: 1440 }[granularity];
  assert.equal(answer.granularity, granularity);
  assert.equal(answer.from, isoMinute(fromMinute));
  assert.equal(answer.to, isoMinute(toMinute));
  assert.equal(answer.series.length, (toMinute - fromMinute) / step, 'one bucket per step of the range');
  answer.series.forEach((b, i) => assert.equal(b.ts, isoMinute(fromMinute + i * step)));
  const impressions = answer.series.reduce((s, b) => s + b.impressions, 0);
  const clicks = answer.series.reduce((s, b) => s + b.clicks, 0);
  assert.equal(typeof answer.totals.late, 'number', 'totals say how many late events wait');
  assert.deepEqual(answer.totals, {
    impressions,
    clicks,
    ctr: ctrOf(clicks, impressions),
    late: answer.totals.late,
  });
  for (const b of answer.series) assert.equal(b.ctr, ctrOf(b.clicks, b.impressions), b.ts);
  // `final` follows the reported watermark (which already has the allowed lateness taken off).
  const watermark = answer.watermark === null ? undefined : Date.parse(answer.watermark);
  for (const b of answer.series) {
    const end = Date.parse(b.ts) + step * MINUTE_MS;
    assert.equal(b.final, watermark !== undefined && watermark >= end, `final of ${b.ts}`);
  }
}

describe('aggregation and the query API over HTTP (SPEC 3.3, 4.1, 4.3)', () => {
  let server: AdtallyProcess;
  let dataDir: string;
  const oracle = new Oracle();
  let traffic: Traffic;
  let alpha: { apiKey: string; campaigns: number[]; ads: number[] };
  let beta: { apiKey: string; campaigns: number[]; ads: number[] };
  let freshAd: number;
  const adsOfCampaign = new Map<number, number[]>();
  /** The range every test reads: from 2 minutes before the traffic to 3 minutes after it started. */
  let fromMinute: number;
  let toMinute: number;
  const range = (): string => `from=${isoMinute(fromMinute)}&to=${isoMinute(toMinute)}`;

  before(async () => {
    dataDir = makeDataDir();
    server = await AdtallyProcess.start(dataDir);
    const api = adminApi(server.url);
    const a = await api.seed(2, 'Alpha');
    const a2 = await api.json<{ id: number }>('POST', '/api/v1/campaigns', {
      advertiserId: a.advertiserId,
      name: 'Alpha autumn',
    });
    const a3 = await api.json<{ id: number }>('POST', '/api/v1/ads', {
      campaignId: a2.id,
      name: 'Alpha autumn ad',
      targetUrl: 'https://alpha.example/autumn',
    });
    alpha = { apiKey: a.apiKey, campaigns: [a.campaignId, a2.id], ads: [...a.adIds, a3.id] };
    adsOfCampaign.set(a.campaignId, a.adIds);
    adsOfCampaign.set(a2.id, [a3.id]);
    const b = await api.seed(2, 'Beta');
    beta = { apiKey: b.apiKey, campaigns: [b.campaignId], ads: b.adIds };
    adsOfCampaign.set(b.campaignId, b.adIds);
    freshAd = (await api.seed(1, 'Fresh')).adIds[0]!;
    traffic = new Traffic(server.url, oracle, new Set([...alpha.ads, ...beta.ads, freshAd]));
    fromMinute = minuteOf(Date.now()) - 2;
    toMinute = fromMinute + 5;
  });
  after(async () => {
    await server.stop();
    removeDir(dataDir);
  });

  const adSeries = async (ad: number, query = range(), token: string | null = TEST_ADMIN_TOKEN) =>
    apiGet<SeriesAnswer>(server.url, `/api/v1/ads/${ad}/aggregates?${query}`, token);
  const campaignSeries = async (id: number, query = range(), token: string | null = TEST_ADMIN_TOKEN) =>
    apiGet<SeriesAnswer>(server.url, `/api/v1/campaigns/${id}/aggregates?${query}`, token);

  /**
   * One ad's deterministic mix: `impressions` billable impressions and
   * `clicks` billable clicks, with every kind of invalid traffic around them
   * (its amount varies with `i` so the ads differ).
   */
  async function mix(ad: number, i: number, impressions: number, clicks: number): Promise<void> {
    const p = `t1_${ad}`;
    const imps = Array.from({ length: impressions }, (_, k) => `${p}_imp${k}`);
    const old = nowSec() - TWO_DAYS_SEC;
    // Impressions: all but the last by the pixel, the last by a batch line.
    for (const imp of imps.slice(0, -1)) await traffic.impression(ad, imp);
    for (let k = 0; k <= i % 2; k++) await traffic.impression(ad, imps[0]!); // duplicate
    await traffic.impression(ad, `${p}_pfimp`, { method: 'HEAD' }); // prefetch
    for (let k = 0; k <= i % 3; k++) await traffic.impression(ad, `${p}_bsimp${k}`, { secret: OTHER_SECRET }); // bad_signature
    await traffic.impression(ad, `${p}_eximp`, { ts: old }); // expired
    await traffic.impression(ad, imps[imps.length - 1]!, { ua: 'googlebot' }); // bot, before the valid one
    // Clicks: a bot click first (it must not use up the billable click), then the valid ones.
    for (let k = 0; k <= i % 2; k++) await traffic.click(ad, imps[0]!, { ua: 'googlebot' });
    for (const imp of imps.slice(0, Math.max(0, clicks - 1))) await traffic.click(ad, imp);
    await traffic.click(ad, `${p}_pf0`, { method: 'HEAD' });
    await traffic.click(ad, `${p}_pf1`, { headers: { 'sec-purpose': 'prefetch' } });
    if (i % 2 === 0) await traffic.click(ad, `${p}_pf2`, { headers: { purpose: 'prefetch' } });
    for (let k = 0; k <= i % 2; k++) await traffic.click(ad, `${p}_bs${k}`, { secret: OTHER_SECRET });
    for (let k = 0; k <= (i + 1) % 3; k++) await traffic.click(ad, `${p}_ex${k}`, { ts: old });
    if (i === 0) await traffic.click(ad, `${p}_bsex`, { secret: OTHER_SECRET, ts: old }); // bad_signature wins
    const at = Date.now() - 2_000;
    await traffic.batch([
      { type: 'impression', ad, imp: imps[imps.length - 1]!, at },
      ...(clicks > 0 ? [{ type: 'click' as const, ad, imp: imps[clicks - 1]!, at }] : []),
      { type: 'click', ad, imp: `${p}_bbs`, secret: OTHER_SECRET, at: at + 500 },
      { type: 'click', ad, imp: `${p}_bex`, ts: old },
      { type: 'impression', ad, imp: imps[0]!, at: at + 600 }, // duplicate
      { type: 'click', ad, imp: `${p}_brej`, ts: old, at: Date.now() }, // at outside validity: rejected
      { type: 'click', ad: UNKNOWN_AD, imp: `${p}_unk` }, // unknown ad: rejected
      { raw: '{"type":"click",' },
    ]);
    // Duplicate clicks of an impression already clicked, by HTTP and by batch.
    if (clicks > 0) {
      for (let k = 0; k <= i % 3; k++) await traffic.click(ad, imps[0]!);
      await traffic.batch([{ type: 'click', ad, imp: imps[clicks - 1]! }]);
    }
  }

  it('counts billable and invalid events per ad and minute exactly as the test predicts', async (t) => {
    // Billable (impressions, clicks) per ad: distinct so /top has a clear order.
    const targets: [number, number, number][] = [
      [alpha.ads[0]!, 6, 1],
      [alpha.ads[1]!, 3, 2],
      [alpha.ads[2]!, 8, 4],
      [beta.ads[0]!, 5, 5],
      [beta.ads[1]!, 2, 0],
    ];
    await Promise.all([
      ...targets.map(([ad, imps, clicks], i) => mix(ad, i, imps, clicks)),
      traffic.click(UNKNOWN_AD, 't1_unknown_ad_click'),
      traffic.impression(UNKNOWN_AD, 't1_unknown_ad_pixel'),
    ]);
    for (const [ad, imps, clicks] of targets) {
      const t = oracle.totals([ad]);
      assert.deepEqual([t.impressions, t.clicks], [imps, clicks], 'the oracle agrees with the plan');
    }
    for (const m of oracle.minutes(oracle.adsWithData()))
      assert.ok(m >= fromMinute && m < toMinute, 'traffic within the range');

    const ads = targets.map(([ad]) => ad);
    t.diagnostic(
      `events in minutes ${oracle.minutes(ads).map(isoMinute).join(', ')}; ${oracle.straddling()} straddled a minute boundary`,
    );
    const settled = await pollUntil(
      async () => {
        const answers = await Promise.all(ads.map(async (ad) => (await adSeries(ad)).body));
        const done = answers.every((a, k) => isDeepEqual(sumBuckets(a.series), oracle.totals([ads[k]!])));
        return { done, value: answers };
      },
      5_000,
      50,
    );
    const answers = settled.value;
    for (const [k, ad] of ads.entries()) {
      const answer = answers[k]!;
      assert.equal(answer.ad, ad);
      checkSeriesShape(answer, 'minute', fromMinute, toMinute);
      assert.deepEqual(sumBuckets(answer.series), oracle.totals([ad]), `totals of ad ${ad}`);
      assert.deepEqual(oracle.diffMinuteSeries([ad], answer.series), [], `per-minute counts of ad ${ad}`);
    }
    // The mix exercised every counter somewhere.
    const everything = oracle.totals(ads);
    for (const f of FIELDS) assert.ok(everything[f] > 0, `${f} was exercised`);

    // A campaign is the sum of its ads, bucket by bucket.
    for (const [campaign, campaignAds] of adsOfCampaign) {
      const { status, body } = await campaignSeries(campaign);
      assert.equal(status, 200);
      assert.equal(body.campaign, campaign);
      checkSeriesShape(body, 'minute', fromMinute, toMinute);
      body.series.forEach((bucket, i) => {
        const sum = zeroCounts();
        for (const ad of campaignAds) addInto(sum, countsOfBucket(answers[ads.indexOf(ad)]!.series[i]!));
        assert.deepEqual(countsOfBucket(bucket), sum, `campaign ${campaign} at ${bucket.ts}`);
      });
      assert.deepEqual(sumBuckets(body.series), oracle.totals(campaignAds));
      assert.deepEqual(oracle.diffMinuteSeries(campaignAds, body.series), []);
    }

    // The unknown ad counts nowhere.
    assert.equal((await adSeries(UNKNOWN_AD)).status, 404);
    const top = await apiGet<TopAnswer>(server.url, `/api/v1/top?${range()}&limit=100`);
    assert.equal(top.status, 200);
    assert.deepEqual(
      top.body.ads.map((r) => r.ad).sort((x, y) => x - y),
      ads,
    );
  });

  it('shows a click in the aggregates within 1 s of its 302 (SPEC 4.3)', async (t) => {
    const times: number[] = [];
    for (let n = 0; n < 3; n++) {
      const before = (await adSeries(freshAd)).body.totals.clicks;
      const { answeredAt } = await traffic.click(freshAd, `t2_fresh_${n}_${Date.now()}`);
      const seen = await pollUntil(
        async () => {
          const clicks = (await adSeries(freshAd)).body.totals.clicks;
          return { done: clicks === before + 1, value: Date.now() - answeredAt };
        },
        2_000,
        20,
      );
      assert.equal(seen.done, true, 'the click showed up');
      times.push(seen.value);
    }
    t.diagnostic(
      `click-to-visible (ms, measured from the 302 to the answer showing it): ${times.join(', ')}`,
    );
    for (const ms of times) assert.ok(ms <= 1_000, `visible after ${ms} ms`);
  });

  it('rolls minutes up into hours and days, aligned to whole buckets', async () => {
    const subjects: { path: string; ads: number[] }[] = [
      ...[...alpha.ads, ...beta.ads, freshAd].map((ad) => ({ path: `/api/v1/ads/${ad}`, ads: [ad] })),
      ...[...adsOfCampaign].map(([c, ads]) => ({ path: `/api/v1/campaigns/${c}`, ads })),
    ];
    for (const [granularity, step] of [
      ['hour', 60],
      ['day', 1440],
    ] as const) {
      const from = Math.floor(fromMinute / step) * step;
      const to = Math.ceil(toMinute / step) * step;
      for (const s of subjects) {
        const get = (g: string, f: number, t: number) =>
          apiGet<SeriesAnswer>(
            server.url,
            `${s.path}/aggregates?granularity=${g}&from=${isoMinute(f)}&to=${isoMinute(t)}`,
          );
        const minutes = await get('minute', from, to);
        const rolled = await get(granularity, from, to);
        assert.equal(rolled.status, 200);
        checkSeriesShape(minutes.body, 'minute', from, to);
        checkSeriesShape(rolled.body, granularity, from, to);
        rolled.body.series.forEach((bucket, i) => {
          const part = minutes.body.series.slice(i * step, (i + 1) * step);
          assert.deepEqual(countsOfBucket(bucket), sumBuckets(part), `${s.path} ${granularity} ${bucket.ts}`);
        });
        assert.deepEqual(rolled.body.totals, minutes.body.totals);
        assert.deepEqual(sumBuckets(rolled.body.series), oracle.totals(s.ads), `${s.path} ${granularity}`);
      }
      // An unaligned range is widened to whole buckets: from down, to up.
      const fromMs = fromMinute * MINUTE_MS + 17_250;
      const toMs = toMinute * MINUTE_MS - 13_000;
      const unaligned = await apiGet<SeriesAnswer>(
        server.url,
        `/api/v1/ads/${alpha.ads[0]}/aggregates?granularity=${granularity}` +
          `&from=${new Date(fromMs).toISOString()}&to=${new Date(toMs).toISOString()}`,
      );
      assert.equal(unaligned.status, 200);
      const stepMs = step * MINUTE_MS;
      checkSeriesShape(
        unaligned.body,
        granularity,
        (Math.floor(fromMs / stepMs) * stepMs) / MINUTE_MS,
        (Math.ceil(toMs / stepMs) * stepMs) / MINUTE_MS,
      );
    }
    // The same for minutes: seconds are widened to whole minutes.
    const unalignedMinutes = await adSeries(
      alpha.ads[0]!,
      `from=${new Date(fromMinute * MINUTE_MS + 1_500).toISOString()}&to=${new Date(toMinute * MINUTE_MS - 59_000).toISOString()}`,
    );
    checkSeriesShape(unalignedMinutes.body, 'minute', fromMinute, toMinute);
  });

  it('keeps each advertiser to its own data and ranks /top correctly', async () => {
    const [ownAd, otherAd] = [alpha.ads[0]!, beta.ads[0]!];
    assert.equal((await adSeries(otherAd, range(), alpha.apiKey)).status, 404);
    assert.equal((await campaignSeries(beta.campaigns[0]!, range(), alpha.apiKey)).status, 404);
    assert.equal((await adSeries(ownAd, range(), beta.apiKey)).status, 404);
    assert.equal((await campaignSeries(alpha.campaigns[1]!, range(), beta.apiKey)).status, 404);
    const own = await adSeries(ownAd, range(), alpha.apiKey);
    assert.equal(own.status, 200);
    assert.deepEqual(sumBuckets(own.body.series), oracle.totals([ownAd]));
    const ownCampaign = await campaignSeries(alpha.campaigns[1]!, range(), alpha.apiKey);
    assert.equal(ownCampaign.status, 200);
    assert.deepEqual(sumBuckets(ownCampaign.body.series), oracle.totals([alpha.ads[2]!]));

    const alphaTop = await apiGet<TopAnswer>(server.url, `/api/v1/top?${range()}&limit=100`, alpha.apiKey);
    assert.equal(alphaTop.status, 200);
    assert.deepEqual(
      alphaTop.body.ads.map((r) => r.ad).sort((x, y) => x - y),
      [...alpha.ads].sort((x, y) => x - y),
    );
    const betaTop = await apiGet<TopAnswer>(server.url, `/api/v1/top?${range()}&limit=100`, beta.apiKey);
    assert.deepEqual(
      betaTop.body.ads.map((r) => r.ad).sort((x, y) => x - y),
      [...beta.ads].sort((x, y) => x - y),
    );

    for (const path of [
      `/api/v1/ads/${ownAd}/aggregates`,
      `/api/v1/campaigns/${alpha.campaigns[0]}/aggregates`,
      '/api/v1/top',
    ]) {
      const none = await apiGet<{ error: { code: string } }>(server.url, path, null);
      assert.equal(none.status, 401, path);
      const wrong = await apiGet<{ error: { code: string } }>(
        server.url,
        path,
        'atk_not_a_real_key_0123456789',
      );
      assert.equal(wrong.status, 403, path);
      assert.equal(typeof wrong.body.error.code, 'string');
    }

    // The admin's ranking, against the oracle's totals of every ad.
    const all = oracle.adsWithData().map((ad) => {
      const c = oracle.totals([ad]);
      return { ad, impressions: c.impressions, clicks: c.clicks, ctr: ctrOf(c.clicks, c.impressions) };
    });
    for (const by of ['ctr', 'impressions', 'clicks'] as const) {
      const ranked = [...all].sort((x, y) => y[by] - x[by]);
      assert.ok(
        ranked[1]![by] > ranked[2]![by] && ranked[0]![by] > ranked[1]![by],
        `the plan has no tie in ${by}`,
      );
      const top = await apiGet<TopAnswer>(server.url, `/api/v1/top?${range()}&by=${by}&limit=2`);
      assert.equal(top.status, 200);
      assert.equal(top.body.by, by);
      assert.deepEqual(top.body.ads, ranked.slice(0, 2), `top by ${by}`);
    }
  });

  it('answers 400 for bad ranges and granularities and 404 for unknown ids', async () => {
    const ad = alpha.ads[0]!;
    const cases: [string, number][] = [
      ['granularity=week', 400],
      ['from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', 400],
      ['from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z', 400],
      ['from=2026-01-01T00:00:00Z&to=2026-01-08T00:01:00Z', 400], // 10,081 minutes
      ['from=2026-01-01T00:00:00Z&to=2026-01-08T00:00:00Z', 200], // exactly 10,080
      ['from=yesterday', 400],
      ['from=2026-13-45T00:00:00Z', 400],
      ['to=2026-01-01', 400],
      ['granularity=hour&from=2026-01-01T00:00:00Z&to=2027-03-01T00:00:00Z', 400], // 10,176 hours
    ];
    for (const [query, status] of cases) {
      const res = await apiGet<{ error?: { code: string; message: string }; series?: unknown[] }>(
        server.url,
        `/api/v1/ads/${ad}/aggregates?${query}`,
      );
      assert.equal(res.status, status, query);
      if (status === 400) {
        assert.equal(typeof res.body.error?.code, 'string', query);
        assert.equal(typeof res.body.error?.message, 'string', query);
      } else assert.equal(res.body.series?.length, 10_080);
    }
    assert.equal((await adSeries(UNKNOWN_AD)).status, 404);
    assert.equal((await campaignSeries(UNKNOWN_AD)).status, 404);
    assert.equal((await apiGet(server.url, `/api/v1/top?by=views`)).status, 400);
    assert.equal((await apiGet(server.url, `/api/v1/top?limit=0`)).status, 400);
  });
});

describe('late events and finality (SPEC 4.4, --allowed-lateness 1s)', () => {
  let server: AdtallyProcess;
  let dataDir: string;
  /** X: events of an older minute; Y: a late event in a minute not yet final; Z: moves the watermark. */
  let adX: number;
  let adY: number;
  let adZ: number;
  const oracle = new Oracle();
  let traffic: Traffic;

  before(async () => {
    dataDir = makeDataDir();
    server = await AdtallyProcess.start(dataDir, { args: ['--allowed-lateness', '1s'] });
    [adX, adY, adZ] = (await adminApi(server.url).seed(3, 'Late')).adIds as [number, number, number];
    traffic = new Traffic(server.url, oracle, new Set([adX, adY, adZ]));
  });
  after(async () => {
    await server.stop();
    removeDir(dataDir);
  });

  const series = async (ad: number, from: number, to: number) =>
    (
      await apiGet<SeriesAnswer>(
        server.url,
        `/api/v1/ads/${ad}/aggregates?from=${isoMinute(from)}&to=${isoMinute(to)}`,
      )
    ).body;
  const bucketAt = (answer: SeriesAnswer, minute: number): ApiBucket =>
    answer.series.find((b) => b.ts === isoMinute(minute))!;
  const late = () => metricValue(server.url, 'adtally_late_events_total');

  it('keeps a final minute unchanged when late events arrive, and counts late events of open minutes', async (t) => {
    // The watermark will be pushed to now - 1 s: leave 1.5 s of the current minute behind us.
    const intoMinute = Date.now() % MINUTE_MS;
    if (intoMinute < 1_500) await sleep(1_500 - intoMinute);
    const current = minuteOf(Date.now());
    const m = current - 1;
    const at = m * MINUTE_MS + 30_000;

    // (a) Events of minute M on time (nothing newer seen yet), then a click now makes M final.
    await traffic.batch([
      { type: 'impression', ad: adX, imp: 'late_x_imp_0', at },
      { type: 'impression', ad: adX, imp: 'late_x_imp_1', at },
      { type: 'click', ad: adX, imp: 'late_x_imp_0', at },
      { type: 'click', ad: adX, imp: 'late_x_imp_1', at },
      { type: 'click', ad: adX, imp: 'late_x_imp_2', at },
      { type: 'click', ad: adX, imp: 'late_x_bad_0', at, secret: OTHER_SECRET },
    ]);
    assert.equal(await late(), 0);
    await traffic.click(adZ, `late_z_${Date.now()}`);
    const final = await pollUntil(
      async () => {
        const answer = await series(adX, m, current + 1);
        return { done: bucketAt(answer, m).final, value: answer };
      },
      3_000,
      20,
    );
    assert.equal(final.done, true, 'minute M became final');
    checkSeriesShape(final.value, 'minute', m, current + 1);
    assert.ok(Date.parse(final.value.watermark!) >= (m + 1) * MINUTE_MS);
    const finalBucket = bucketAt(final.value, m);
    const expectedM: Counts = { ...zeroCounts(), impressions: 2, clicks: 3, 'click.bad_signature': 1 };
    assert.deepEqual(countsOfBucket(finalBucket), expectedM);
    assert.equal(bucketAt(final.value, current).final, false, 'the current minute is open');

    // Late events for M: recorded, counted as late, but M's served counts do not move.
    await traffic.batch([
      { type: 'click', ad: adX, imp: 'late_x_imp_3', at: at + 10_000 },
      { type: 'impression', ad: adX, imp: 'late_x_imp_4', at: at + 10_000 },
      { type: 'click', ad: adX, imp: 'late_x_imp_0', at: at + 10_000 },
    ]);
    const counted = await pollUntil(async () => {
      const n = await late();
      return { done: n >= 3, value: n };
    }, 3_000);
    assert.equal(counted.value, 3, 'adtally_late_events_total counts the three late events');
    for (let n = 0; n < 5; n++) {
      await sleep(200);
      const again = await series(adX, m, current + 1);
      assert.equal(bucketAt(again, m).final, true);
      assert.deepEqual(countsOfBucket(bucketAt(again, m)), expectedM, 'a final minute keeps its counts');
      assert.deepEqual(sumBuckets(again.series), expectedM, 'the late events went to no other minute');
      assert.equal(again.totals.late, 3, 'the answer says three late events wait for reconciliation');
    }

    // (b) A late event of a minute that is not final yet counts in its own minute.
    let lateAt: number | undefined;
    for (let attempt = 0; attempt < 3 && lateAt === undefined; attempt++) {
      if (Date.now() % MINUTE_MS < 3_000) await sleep(3_000 - (Date.now() % MINUTE_MS));
      const push = await traffic.click(adZ, `late_z_${Date.now()}`);
      // Behind the watermark (now >= push.sentAt, so watermark >= sentAt - 1000), yet in a minute whose
      // end the watermark cannot reach by the time this line is applied.
      const candidate = push.sentAt - 1_200;
      if (minuteOf(candidate) === minuteOf(Date.now() + 200)) lateAt = candidate;
      // Too close to the end of a minute: wait for the next one (+3 s) rather than retry at once.
      else await sleep(MINUTE_MS - (Date.now() % MINUTE_MS) + 3_000);
    }
    assert.ok(lateAt !== undefined, 'found a moment for an open-minute late event');
    const before = await late();
    await traffic.batch([{ type: 'click', ad: adY, imp: 'late_y_imp_0', at: lateAt }]);
    const lateMinute = minuteOf(lateAt);
    const seen = await pollUntil(
      async () => {
        const answer = await series(adY, lateMinute - 1, lateMinute + 2);
        return { done: answer.totals.clicks === 1, value: answer };
      },
      3_000,
      20,
    );
    assert.equal(seen.done, true, 'the late click was counted');
    assert.deepEqual(countsOfBucket(bucketAt(seen.value, lateMinute)), { ...zeroCounts(), clicks: 1 });
    assert.deepEqual(sumBuckets(seen.value.series), { ...zeroCounts(), clicks: 1 });
    assert.equal(await late(), before + 1, 'adtally_late_events_total counts it');
    t.diagnostic(`late click at ${new Date(lateAt).toISOString()} counted in ${isoMinute(lateMinute)}`);
  });
});

function isDeepEqual(a: Counts, b: Counts): boolean {
  return FIELDS.every((f) => a[f] === b[f]);
}
