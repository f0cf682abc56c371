import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { AdtallyProcess, adminApi, makeDataDir, removeDir } from './support/adtally-process.js';
import {
  Oracle,
  Traffic,
  apiGet,
  isoMinute,
  metricValue,
  minuteOf,
  pollUntil,
  sumBuckets,
  type SeriesAnswer,
} from './support/traffic.js';

/** SPEC 1 and 4.1: an impression is the pair (ad, imp); dedup state survives a restart, and so does its gauge. */
describe('dedup by (ad, imp) over HTTP', () => {
  let dataDir: string;
  let server: AdtallyProcess;
  let ads: number[];
  const oracle = new Oracle();
  let traffic: Traffic;
  let fromMinute: number;

  before(async () => {
    dataDir = makeDataDir();
    server = await AdtallyProcess.start(dataDir);
    ads = (await adminApi(server.url).seed(2, 'Dedup')).adIds;
    traffic = new Traffic(server.url, oracle, new Set(ads));
    fromMinute = minuteOf(Date.now()) - 1;
  });
  after(async () => {
    await server.stop();
    removeDir(dataDir);
  });

  const totals = async (ad: number) => {
    const query = `from=${isoMinute(fromMinute)}&to=${isoMinute(minuteOf(Date.now()) + 2)}`;
    const answer = await apiGet<SeriesAnswer>(server.url, `/api/v1/ads/${ad}/aggregates?${query}`);
    assert.equal(answer.status, 200);
    const sum = sumBuckets(answer.body.series);
    return { clicks: sum.clicks, duplicates: sum['click.duplicate'] };
  };
  /** The counts of `ad` once the aggregation has caught up with what the test oracle expects. */
  const settled = async (ad: number) => {
    const want = oracle.totals([ad]);
    const expected = { clicks: want.clicks, duplicates: want['click.duplicate'] };
    const got = await pollUntil(async () => {
      const value = await totals(ad);
      return { done: isDeepStrictEqual(value, expected), value };
    }, 5_000);
    return got.value;
  };

  it('the same imp clicked on two ads is billable on both; again on the first, a duplicate', async () => {
    const [first, second] = [ads[0]!, ads[1]!];
    const imp = 'shared-imp-0001';
    assert.equal((await traffic.click(first, imp)).field, 'clicks');
    assert.equal((await traffic.click(second, imp)).field, 'clicks', 'the test oracle agrees');
    await traffic.click(first, imp);
    assert.deepEqual(await settled(first), { clicks: 1, duplicates: 1 });
    assert.deepEqual(await settled(second), { clicks: 1, duplicates: 0 });
  });

  it('after a restart, the first scrape of /metrics shows the dedup entries, and they still decide', async () => {
    const committed = await pollUntil(async () => {
      const entries = await metricValue(server.url, 'adtally_dedup_entries');
      return { done: entries === 2, value: entries };
    }, 5_000);
    assert.equal(committed.value, 2, 'two click entries: (first, imp) and (second, imp)');
    const exit = await server.stop();
    assert.equal(exit.code, 0);
    server = await AdtallyProcess.start(dataDir);
    assert.equal(await metricValue(server.url, 'adtally_dedup_entries'), 2, 'first scrape after the restart');
    traffic = new Traffic(server.url, oracle, new Set(ads));
    assert.equal((await traffic.click(ads[1]!, 'shared-imp-0001')).field, 'click.duplicate');
    assert.deepEqual(await settled(ads[1]!), { clicks: 1, duplicates: 1 });
  });
});
