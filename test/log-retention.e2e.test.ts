import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  AdtallyProcess,
  CHROME_UA,
  adminApi,
  makeDataDir,
  removeDir,
  tokenQuery,
} from './support/adtally-process.js';
import { apiGet, isoMinute, metricValue, minuteOf, pollUntil, type SeriesAnswer } from './support/traffic.js';

const SEGMENT_BYTES = 4096;
// The archiver is a consumer too: it must roll (commit past the segments) before they can go.
const ARGS = [
  ...['--log-segment-bytes', String(SEGMENT_BYTES), '--log-retention', '2s'],
  ...['--archive-roll-interval', '500ms'],
];

/** Bases of the segment files in the log directory. */
function segmentBases(dataDir: string): number[] {
  return readdirSync(join(dataDir, 'log'))
    .filter((name) => name.endsWith('.seg'))
    .map((name) => Number(name.slice(0, -4)))
    .sort((a, b) => a - b);
}

function logBytesOnDisk(dataDir: string): number {
  const dir = join(dataDir, 'log');
  return readdirSync(dir)
    .filter((name) => name.endsWith('.seg'))
    .reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

describe('event log retention over HTTP (SPEC 5)', () => {
  let server: AdtallyProcess;
  let dataDir: string;
  let ad: number;
  const fromMinute = minuteOf(Date.now()) - 2;
  const range = `from=${isoMinute(fromMinute)}&to=${isoMinute(fromMinute + 6)}`;

  before(async () => {
    dataDir = makeDataDir('adtally-e2e-retention-');
    server = await AdtallyProcess.start(dataDir, { args: ARGS });
    ad = (await adminApi(server.url).seed(1, 'Retained')).adIds[0]!;
  });
  after(async () => {
    await server.stop();
    removeDir(dataDir);
  });

  async function click(imp: string): Promise<void> {
    const res = await fetch(`${server.url}/click?${tokenQuery(ad, imp)}`, {
      headers: { 'user-agent': CHROME_UA },
      redirect: 'manual',
    });
    await res.arrayBuffer();
    assert.equal(res.status, 302);
  }

  async function waitForClicks(expected: number): Promise<number> {
    const counted = await pollUntil(async () => {
      const answer = await apiGet<SeriesAnswer>(server.url, `/api/v1/ads/${ad}/aggregates?${range}`);
      assert.equal(answer.status, 200);
      const clicks = answer.body.totals.clicks;
      return { done: clicks >= expected, value: clicks };
    }, 20_000);
    return counted.value;
  }

  it('deletes consumed segments older than --log-retention while every click stays counted', async () => {
    // Every segment file there ever is: a sealed one lives at least 2 s, so a 20 ms poll sees each.
    const clicks = 300;
    const seen = new Set<number>();
    const watch = setInterval(() => segmentBases(dataDir).forEach((base) => seen.add(base)), 20);
    try {
      for (let k = 0; k < clicks; k += 10) {
        await Promise.all(Array.from({ length: 10 }, (_, j) => click(`imp_retained_${k + j}`)));
      }
      // Scraped right away: the segments sealed in the last 2 s are still there.
      const written = await metricValue(server.url, 'adtally_log_bytes');
      assert.equal(await waitForClicks(clicks), clicks);

      // Passes run every 500 ms: once consumed and 2 s old, every sealed segment goes.
      // The counter moves when a pass ends, after its unlinks: wait for both.
      const deleted = await pollUntil(async () => {
        const value = await metricValue(server.url, 'adtally_log_deleted_segments_total');
        return { done: segmentBases(dataDir).length === 1 && value === seen.size - 1, value };
      }, 20_000);
      assert.equal(segmentBases(dataDir).length, 1, 'only the active segment is left');
      assert.ok(seen.size >= 5, `segments seen: ${seen.size}`);
      assert.equal(deleted.value, seen.size - 1, 'every sealed segment was deleted, and counted');
      assert.equal(await metricValue(server.url, 'adtally_log_segments'), 1);
      const left = await metricValue(server.url, 'adtally_log_bytes');
      assert.equal(left, logBytesOnDisk(dataDir));
      assert.ok(left < written, `log bytes ${written} -> ${left}`);
      assert.ok(segmentBases(dataDir)[0]! > 0, 'the first segments are gone from the disk');
    } finally {
      clearInterval(watch);
    }
    // Aggregates are kept in the store, not the log: every click still counts.
    assert.equal(await waitForClicks(clicks), clicks);
  });

  it('restarts on a log whose first segments were deleted, and counts on', async () => {
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
    const firstBase = segmentBases(dataDir)[0]!;
    assert.ok(firstBase > 0);
    server = await AdtallyProcess.start(dataDir, { args: ARGS });
    // The gauges are right from the first scrape, before any pass or flush.
    assert.ok((await metricValue(server.url, 'adtally_log_bytes')) > 0);
    assert.ok((await metricValue(server.url, 'adtally_log_segments')) >= 1);
    assert.ok(logBytesOnDisk(dataDir) > 0);
    for (let k = 0; k < 20; k++) await click(`after-restart-${k}`);
    assert.equal(await waitForClicks(320), 320);
  });
});
