import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeEvent } from '../src/domain/event.js';
import { openFileEventLog } from '../src/log/file/file-event-log.js';
import { AdtallyProcess, adminApi, makeDataDir, removeDir } from './support/adtally-process.js';
import { ClickTraffic, seededRandom, type TrackedImpression } from './support/click-traffic.js';

/*
 * SPEC 4.1/4.2 under crashes: a real `adtally serve` takes a steady stream of
 * clicks (30% duplicates, plus client retries) and is killed with SIGKILL at
 * random moments, then restarted on the same data directory. At the end every
 * impression id ever sent has been retried until it got a 302, and for every
 * ad and minute the billable clicks must equal the distinct ids answered 302.
 *
 * The client only knows a window [sent, answered] for each request, while a
 * click is counted in the minute of the collector's receive time of the first
 * event of that id in the log (which may be an attempt that was logged but
 * never answered because of the kill). So the per-minute check from the
 * client's side is exact for ids whose candidate windows all fall in one
 * minute, and a bound for the few that straddle a minute boundary; the totals
 * are exact. After a clean stop the raw log itself is the oracle: first valid
 * click per id in log order gives the exact expected count for every minute,
 * and every other valid click is a duplicate.
 */

const KILLS = 6;
const ADS = 3;
const CONCURRENCY = 16;
const MINUTE_MS = 60_000;
/** Small segments so that rolling to new segments happens between and across crashes. */
const SERVE_ARGS = ['--log-segment-bytes', '65536'];

const minuteOf = (ms: number): number => Math.floor(ms / MINUTE_MS);
const isoMinute = (minute: number): string => new Date(minute * MINUTE_MS).toISOString();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface SeriesAnswer {
  series: {
    ts: string;
    impressions: number;
    clicks: number;
    invalid: { duplicate: number; bot: number; prefetch: number; bad_signature: number; expired: number };
  }[];
  totals: { impressions: number; clicks: number };
}

/** Counts by minute for one ad. */
type PerMinute = Map<number, number>;
const bump = (map: PerMinute, minute: number, by = 1): void => {
  map.set(minute, (map.get(minute) ?? 0) + by);
};

/**
 * The minutes in which the first logged event of `imp` may have been received:
 * those covered by the windows of its attempts up to its first 302 (sequential
 * by construction). A timed-out attempt may have been read by the server after
 * the client gave up, so its window stays open until `horizon`.
 */
function candidateMinutes(imp: TrackedImpression, horizon: number): number[] {
  const minutes = new Set<number>();
  for (const a of imp.attempts) {
    if (a.afterFirst302) continue;
    const end = a.error === 'timeout' ? horizon : a.endedAt;
    for (let m = minuteOf(a.sentAt); m <= minuteOf(end); m++) minutes.add(m);
  }
  return [...minutes].sort((a, b) => a - b);
}

async function consumerLag(url: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = /^adtally_consumer_lag_bytes (\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/m.exec(text);
  return match === null ? undefined : Number(match[1]);
}

describe('crash safety of adtally serve (SPEC 4.1, 4.2)', () => {
  it(
    `counts every 302-answered impression exactly once per minute across ${KILLS} SIGKILLs`,
    { timeout: 120_000 },
    async (t) => {
      const began = Date.now();
      const seed = Number(process.env.ADTALLY_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
      t.diagnostic(`seed ${seed} (set ADTALLY_CRASH_SEED to replay the same choices)`);
      const random = seededRandom(seed);
      const dataDir = makeDataDir('adtally-crash-');
      let server = await AdtallyProcess.start(dataDir, { args: SERVE_ARGS });
      let passed = false;
      let traffic: ClickTraffic | undefined;
      try {
        const { adIds, campaignId } = await adminApi(server.url).seed(ADS, 'Crash');
        const startedAt = Date.now();
        traffic = new ClickTraffic(adIds, random, {
          concurrency: CONCURRENCY,
          duplicateShare: 0.3,
          retryShare: 0.1,
        });
        traffic.attach(server.url);
        traffic.start();

        const restartMs: number[] = [];
        for (let kill = 0; kill < KILLS; kill++) {
          const answeredBefore = traffic.stats.answered302;
          await sleep(300 + Math.floor(random() * 1200));
          assert.ok(traffic.stats.answered302 > answeredBefore, `incarnation ${kill} answered clicks`);
          // kill() sends SIGKILL synchronously; detaching in the same tick keeps the loops from
          // hammering the dead port, while the requests in flight meet the kill.
          const exited = server.kill();
          const agent = traffic.detach();
          await exited;
          agent?.destroy();
          assert.equal(server.child.signalCode, 'SIGKILL');
          const restarting = Date.now();
          server = await AdtallyProcess.start(dataDir, { args: SERVE_ARGS });
          restartMs.push(Date.now() - restarting);
          traffic.attach(server.url);
        }
        // Traffic on the last incarnation too, then stop and let clients retry whatever had no answer.
        await sleep(300 + Math.floor(random() * 700));
        await traffic.stop();
        const unansweredBeforeRetry = traffic.unansweredCount();
        await traffic.retryUnanswered();
        assert.equal(traffic.unansweredCount(), 0);
        const endedAt = Date.now();

        const ready = await fetch(`${server.url}/readyz`);
        assert.equal(ready.status, 200, await ready.text());

        // What the client side knows: per ad, distinct ids answered 302, by candidate minute.
        const impressions = traffic.impressions;
        const byImp = new Map(impressions.map((i) => [i.imp, i]));
        const fromMinute = minuteOf(startedAt);
        const toMinute = minuteOf(endedAt) + 1;
        const expected = new Map(
          adIds.map((ad) => [
            ad,
            {
              distinct: 0,
              certain: new Map() as PerMinute,
              ambiguous: [] as number[][],
              certainDuplicates: 0,
            },
          ]),
        );
        let certainDuplicates = 0;
        for (const imp of impressions) {
          const e = expected.get(imp.ad)!;
          assert.ok(imp.first302 !== undefined, `${imp.imp} has a 302`);
          e.distinct++;
          const minutes = candidateMinutes(imp, endedAt);
          if (minutes.length === 1) bump(e.certain, minutes[0]!);
          else e.ambiguous.push(minutes);
          // Sent after the id's first 302 was received and itself answered 302: logged after a valid
          // click of the same id, so certainly a duplicate.
          const dups = imp.attempts.filter((a) => a.afterFirst302 && a.status === 302).length;
          e.certainDuplicates += dups;
          certainDuplicates += dups;
        }

        // Wait until the aggregation worker has committed everything durable.
        const api = adminApi(server.url);
        const query = `from=${isoMinute(fromMinute)}&to=${isoMinute(toMinute)}&granularity=minute`;
        const fetchAll = async (): Promise<Map<number, SeriesAnswer>> =>
          new Map(
            await Promise.all(
              adIds.map(
                async (ad) =>
                  [ad, await api.json<SeriesAnswer>('GET', `/api/v1/ads/${ad}/aggregates?${query}`)] as const,
              ),
            ),
          );
        let answers = await fetchAll();
        {
          const deadline = Date.now() + 15_000;
          let previous = '';
          let stable = 0;
          for (;;) {
            const lag = await consumerLag(server.url);
            const snapshot = JSON.stringify([...answers.values()].map((a) => a.series));
            stable = lag === 0 && snapshot === previous ? stable + 1 : 0;
            if (stable >= 2) break;
            assert.ok(Date.now() < deadline, `aggregates did not settle (lag ${lag})`);
            previous = snapshot;
            await sleep(150);
            answers = await fetchAll();
          }
        }

        const totalDistinct = impressions.length;
        const ambiguousCount = [...expected.values()].reduce((n, e) => n + e.ambiguous.length, 0);
        const { stats } = traffic;
        t.diagnostic(
          `kills ${KILLS}, restarts ${restartMs.map((ms) => `${ms}ms`).join(' ')}; clicks sent ${stats.sent}, ` +
            `302s ${stats.answered302}, failed ${stats.failed} ${JSON.stringify([...stats.errors])}, ` +
            `distinct imps ${totalDistinct} (${unansweredBeforeRetry} retried at the end, ` +
            `${ambiguousCount} straddling a minute), certain duplicates ${certainDuplicates}`,
        );
        assert.deepEqual([...stats.otherStatus], [], 'every answer was a 302');
        assert.ok(stats.failed > 0, 'some requests met a kill');

        let clicksAllAds = 0;
        for (const ad of adIds) {
          const e = expected.get(ad)!;
          const answer = answers.get(ad)!;
          assert.equal(answer.series.length, toMinute - fromMinute);
          // Exact: billable clicks of the ad over the range are its distinct ids answered 302.
          assert.equal(answer.totals.clicks, e.distinct, `ad ${ad}: billable clicks vs distinct 302 ids`);
          let sumClicks = 0;
          let sumDuplicates = 0;
          for (const bucket of answer.series) {
            const minute = minuteOf(Date.parse(bucket.ts));
            const low = e.certain.get(minute) ?? 0;
            const high = low + e.ambiguous.filter((ms) => ms.includes(minute)).length;
            assert.ok(
              bucket.clicks >= low && bucket.clicks <= high,
              `ad ${ad} minute ${bucket.ts}: ${bucket.clicks} clicks, expected ${low}..${high}`,
            );
            assert.equal(bucket.impressions, 0);
            const { duplicate, ...others } = bucket.invalid;
            assert.deepEqual(others, { bot: 0, prefetch: 0, bad_signature: 0, expired: 0 }, bucket.ts);
            sumClicks += bucket.clicks;
            sumDuplicates += duplicate;
          }
          assert.equal(sumClicks, e.distinct);
          assert.ok(
            sumDuplicates >= e.certainDuplicates,
            `ad ${ad}: ${sumDuplicates} duplicates counted, at least ${e.certainDuplicates} were sent`,
          );
          clicksAllAds += sumClicks;
        }
        const campaign = await api.json<SeriesAnswer>(
          'GET',
          `/api/v1/campaigns/${campaignId}/aggregates?${query}`,
        );
        assert.equal(campaign.totals.clicks, totalDistinct);
        assert.equal(clicksAllAds, totalDistinct);

        // The raw log as the exact oracle (read after a clean stop: the log takes one process at a time).
        const exit = await server.stop();
        assert.equal(exit.code, 0, server.log);
        const oracle = new Map(
          adIds.map((ad) => [ad, { clicks: new Map() as PerMinute, dups: new Map() as PerMinute }]),
        );
        const firstMinute = new Map<string, number>();
        const log = await openFileEventLog(`${dataDir}/log`);
        try {
          let logged = 0;
          for (let offset = log.startOffset(); offset < log.durableEnd();) {
            const batch = await log.read(offset, 4 * 1024 * 1024);
            assert.ok(batch.next > offset, 'log read progresses');
            for (const record of batch.records) {
              const event = decodeEvent(record.payload);
              assert.equal(event.type, 'click');
              assert.equal(event.outcome, 'ok', `${event.imp} at ${record.offset}`);
              assert.ok(
                byImp.get(event.imp)?.ad === event.ad,
                `logged ${event.imp} was sent for ad ${event.ad}`,
              );
              const o = oracle.get(event.ad)!;
              const minute = minuteOf(event.eventTime);
              if (firstMinute.has(event.imp)) bump(o.dups, minute);
              else {
                firstMinute.set(event.imp, minute);
                bump(o.clicks, minute);
              }
              logged++;
            }
            offset = batch.next;
          }
          assert.ok(
            logged >= stats.answered302,
            `${logged} events logged, ${stats.answered302} answered 302`,
          );
          t.diagnostic(
            `log: ${logged} click events, ${logged - stats.answered302} of them never answered ` +
              `(logged before a kill), ${log.durableEnd()} bytes`,
          );
        } finally {
          await log.close();
        }
        // No loss: every id answered 302 is in the log, in a minute its client windows allow.
        for (const imp of impressions) {
          const minute = firstMinute.get(imp.imp);
          assert.ok(minute !== undefined, `${imp.imp} answered 302 but not in the log`);
          assert.ok(
            candidateMinutes(imp, endedAt).includes(minute),
            `${imp.imp} logged first in minute ${isoMinute(minute)}, outside its request windows`,
          );
        }
        assert.equal(firstMinute.size, totalDistinct);
        // Exact, per ad and minute: billable clicks and duplicates as the log says.
        for (const ad of adIds) {
          const o = oracle.get(ad)!;
          for (const bucket of answers.get(ad)!.series) {
            const minute = minuteOf(Date.parse(bucket.ts));
            assert.equal(bucket.clicks, o.clicks.get(minute) ?? 0, `ad ${ad} ${bucket.ts} clicks vs log`);
            assert.equal(
              bucket.invalid.duplicate,
              o.dups.get(minute) ?? 0,
              `ad ${ad} ${bucket.ts} duplicates vs log`,
            );
          }
        }
        t.diagnostic(`runtime ${((Date.now() - began) / 1000).toFixed(1)} s`);
        passed = true;
      } finally {
        // On failure the loops may still run: stop them, and the kill ends their in-flight requests.
        const stopping = traffic?.stop();
        traffic?.destroyAgent();
        await server.kill();
        await stopping;
        if (passed) removeDir(dataDir);
        else t.diagnostic(`data directory kept for inspection: ${dataDir}`);
      }
    },
  );
});
