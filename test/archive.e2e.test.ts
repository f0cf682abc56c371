import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openFileEventLog } from '../src/log/file/file-event-log.js';
import { seededRandom } from '../src/domain/seeded-random.js';
import {
  AdtallyProcess,
  TEST_ADMIN_TOKEN,
  TEST_SECRET,
  adminApi,
  makeDataDir,
  removeDir,
  runCli,
  tokenQuery,
} from './support/adtally-process.js';
import { countByKind, duplicatePositions, readArchive, readLogEvents } from './support/archive-reader.js';

/*
 * The raw archive of `adtally serve` (issue 10, SPEC 4.5): after a clean
 * stop it holds exactly the events of the log, and kill -9 at any moment of
 * archiving never leaves a partial file, a `.tmp` (after the next start) or a
 * duplicated row. The log itself, read straight from its segment files, is
 * the oracle.
 */

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** Rolls every 100 ms: many files and commits per round, so kills land in the middle of them. */
const FAST_ROLLS = ['--archive-roll-interval', '100ms', '--log-segment-bytes', '262144'];

/** Asserts the archive of a stopped serve's data dir equals its log, and that no `.tmp` is left. */
async function assertArchiveIsTheLog(dataDir: string): Promise<number> {
  const log = await openFileEventLog(join(dataDir, 'log'));
  let logged;
  try {
    logged = await readLogEvents(log);
  } finally {
    await log.close();
  }
  const rows = await readArchive(join(dataDir, 'archive'));
  assert.deepEqual(duplicatePositions(rows), [], 'no (partition, offset) twice');
  assert.equal(rows.length, logged.length, 'as many rows as logged events');
  assert.deepEqual(
    rows.map((r) => r.offset),
    logged.map((l) => l.offset),
  );
  assert.deepEqual(
    countByKind(rows),
    countByKind(logged.map(({ event }) => ({ type: event.type, outcome: event.outcome }))),
  );
  const root = join(dataDir, 'archive');
  const leftovers = existsSync(root)
    ? readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((n) => n.endsWith('.tmp'))
    : [];
  assert.deepEqual(leftovers, [], 'no .tmp file left');
  return rows.length;
}

/** Clicks and impressions on `ads` until `stop` is set, ignoring failures (the server may be killed). */
async function sendUntil(
  url: string,
  ads: readonly number[],
  stop: { done: boolean },
  seed: number,
): Promise<void> {
  const random = seededRandom(seed);
  const one = async (worker: number): Promise<void> => {
    for (let i = 0; !stop.done; i++) {
      const ad = ads[Math.floor(random() * ads.length)]!;
      const imp = `imp-${seed}-${worker}-${i % 50}`;
      const path = random() < 0.5 ? 'click' : 'impression';
      await fetch(`${url}/${path}?${tokenQuery(ad, imp)}`, { redirect: 'manual' })
        .then((res) => res.arrayBuffer())
        .catch(() => sleep(20));
    }
  };
  await Promise.all([0, 1, 2, 3].map(one));
}

describe('the raw archive of adtally serve', () => {
  it(
    'after a loadgen run and SIGTERM, holds exactly the events of the log',
    { timeout: 90_000 },
    async () => {
      const dir = makeDataDir();
      try {
        const server = await AdtallyProcess.start(dir, { args: ['--archive-roll-interval', '500ms'] });
        const run = await runCli([
          ...['loadgen', '--target', server.url, '--rate', '400', '--duration', '2s', '--ads', '5'],
          ...['--dup-rate', '0.1', '--bad-sig-rate', '0.05', '--expired-rate', '0.05', '--bot-rate', '0.05'],
          ...['--prefetch-rate', '0.05', '--late-rate', '0.1', '--ctr', '0.3'],
          ...['--secret', TEST_SECRET, '--admin-token', TEST_ADMIN_TOKEN, '--json', '--quiet'],
        ]);
        assert.equal(run.code, 0, run.stdout + run.stderr);
        // Readable while serve runs: the archiver flushes every 500 ms.
        const metrics = await (await fetch(`${server.url}/metrics`)).text();
        assert.match(metrics, /^adtally_archive_files_total \d+/m);
        const ready = await fetch(`${server.url}/readyz`);
        assert.equal(ready.status, 200, await ready.text());
        const exit = await server.stop();
        assert.equal(exit.code, 0, server.log);
        const rows = await assertArchiveIsTheLog(dir);
        assert.ok(rows >= 700, `archived ${rows} events`);
        // Campaign and advertiser come from the catalog for every event of a known ad.
        const archived = await readArchive(join(dir, 'archive'));
        const known = archived.filter((r) => r.outcome !== 'unknown_ad');
        assert.ok(known.length > 0 && known.every((r) => r.campaign !== null && r.advertiser !== null));
      } finally {
        removeDir(dir);
      }
    },
  );

  it(
    'kill -9 at random moments of archiving, then a clean run: still exactly the log, no .tmp',
    { timeout: 120_000 },
    async (t) => {
      const dir = makeDataDir();
      const seed = Date.now() % 1_000_000;
      const random = seededRandom(seed);
      let recoveries = 0;
      try {
        let server = await AdtallyProcess.start(dir, { args: FAST_ROLLS });
        const { adIds } = await adminApi(server.url).seed(4);
        for (let round = 0; round < 5; round++) {
          const stop = { done: false };
          const sending = sendUntil(server.url, adIds, stop, round);
          await sleep(300 + Math.floor(random() * 1_200));
          await server.kill();
          stop.done = true;
          await sending;
          server = await AdtallyProcess.start(dir, { args: FAST_ROLLS });
          // Printed at start, before listening, when the kill left files of an uncommitted roll.
          if (/removed \d+ uncommitted archive file/.test(server.log)) recoveries++;
        }
        // The clean run: recovery of the last kill, a little more traffic, SIGTERM.
        const stop = { done: false };
        const sending = sendUntil(server.url, adIds, stop, 99);
        await sleep(500);
        stop.done = true;
        await sending;
        const exit = await server.stop();
        assert.equal(exit.code, 0, server.log);
        const rows = await assertArchiveIsTheLog(dir);
        assert.ok(rows > 100, `archived ${rows} events`);
        t.diagnostic(`seed ${seed}: ${rows} events; ${recoveries} of 5 restarts removed uncommitted files`);
      } finally {
        removeDir(dir);
      }
    },
  );
});
