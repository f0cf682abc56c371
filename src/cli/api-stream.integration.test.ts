import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { emptyCounts } from '../aggregate/counts.js';
import { minuteOf } from '../aggregate/minute.js';
import { Catalog } from '../catalog/catalog.js';
import type { MinuteDelta } from '../store/aggregate-store.js';
import { openServingStore, type ServingStore } from '../store/open-store.js';
import { createFreshDatabase, type FreshDatabase } from '../store/postgres/fresh-test-database.js';
import { PostgresDatabase } from '../store/postgres/postgres-database.js';
import { readRecentMinutes } from '../store/postgres/recent-minutes.js';
import type { StreamCommit } from '../web/stream-hub.js';
import { createApiStream } from './api-stream.js';

/** The hub's side the api stream drives, recorded: who watches is set by the test. */
function recordingHub(watched: 'all' | Set<number>) {
  const published: StreamCommit[] = [];
  let resyncs = 0;
  return {
    published,
    resyncs: () => resyncs,
    hub: {
      watched: () => watched,
      publish: (commit: StreamCommit) => void published.push(commit),
      resyncAll: () => void resyncs++,
    },
  };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe("adtally api's live stream over PostgreSQL (workers commit elsewhere)", () => {
  let fresh: FreshDatabase;
  let store: ServingStore;
  let db: PostgresDatabase;
  let catalog: Catalog;
  let acmeAds: number[];
  let otherAd: number;
  let acmeId: number;
  before(async () => {
    fresh = await createFreshDatabase('apistream');
    store = await openServingStore(fresh.url);
    db = await PostgresDatabase.open(fresh.url);
    const acme = await store.catalog.createAdvertiser('Acme', 'hash-acme');
    const other = await store.catalog.createAdvertiser('Other', 'hash-other');
    acmeId = acme.id;
    const c1 = await store.catalog.createCampaign(acme.id, 'c');
    const c2 = await store.catalog.createCampaign(other.id, 'c');
    acmeAds = [
      (await store.catalog.createAd(c1, 'a', 'https://a.example/')).id,
      (await store.catalog.createAd(c1, 'b', 'https://b.example/')).id,
    ];
    otherAd = (await store.catalog.createAd(c2, 'o', 'https://o.example/')).id;
    catalog = await Catalog.load(store.catalog);
  });
  after(async () => {
    await db.close();
    await store.close();
    await fresh.drop();
  });

  let offset = 0;
  const commit = async (deltas: MinuteDelta[]): Promise<void> => {
    offset += 10;
    await store.aggregates.commit('events/0', {
      deltas,
      lateDeltas: [],
      dedupAdded: [],
      dedupExpireBefore: undefined,
      checkpoint: { offset, maxEventTime: Date.now() },
    });
  };
  const clicks = (ad: number, minute: number, n: number): MinuteDelta => ({
    ad,
    minute,
    counts: { ...emptyCounts(), clicks: n },
  });

  it("sends what each worker commit added to the watched advertiser's ads, and only when a checkpoint moved", async () => {
    const minute = minuteOf(Date.now());
    await commit([clicks(acmeAds[0]!, minute, 3)]);
    const recorder = recordingHub(new Set([acmeId]));
    const stream = createApiStream({
      hub: recorder.hub,
      catalog,
      read: (ads, from, limit) => readRecentMinutes(db, ads, from, limit),
      watermark: () => undefined,
      allowedLatenessMs: 5_000,
      now: () => Date.now(),
      onError: (err) => assert.fail(err),
    });
    const tick = async (): Promise<void> => {
      stream.checkpointsRead(await store.aggregates.listCheckpoints('events/'));
      await new Promise((r) => setTimeout(r, 100));
    };
    await tick();
    // The first read primes: counts from before anyone watched are no change.
    assert.equal(recorder.published.filter((c) => c.deltas.length > 0).length, 0);
    await commit([
      clicks(acmeAds[0]!, minute, 2),
      clicks(acmeAds[1]!, minute, 1),
      clicks(otherAd, minute, 9),
    ]);
    await tick();
    await until(() => recorder.published.some((c) => c.deltas.length > 0), 'the commit');
    const changes = recorder.published.flatMap((c) => c.deltas).map((d) => [d.ad, d.minute, d.counts.clicks]);
    assert.deepEqual(
      changes.sort((a, b) => a[0]! - b[0]!),
      [
        [acmeAds[0], minute, 2],
        [acmeAds[1], minute, 1],
      ],
    );
    // No commit, no read worth sending: the checkpoints did not move.
    const before = recorder.published.length;
    await tick();
    await tick();
    assert.equal(recorder.published.length, before);
  });

  it('says the read is truncated past its cell limit, so watchers resync', async () => {
    const minute = minuteOf(Date.now());
    await commit([clicks(acmeAds[0]!, minute, 1), clicks(acmeAds[1]!, minute, 1)]);
    const read = await readRecentMinutes(db, acmeAds, minute, 1);
    assert.equal(read.truncated, true);
    assert.equal(read.cells.length, 1);
    const all = await readRecentMinutes(db, undefined, minute, 100);
    assert.equal(all.truncated, false);
    assert.deepEqual(
      all.cells.map((c) => c.ad).sort((a, b) => a - b),
      [...acmeAds, otherAd].sort((a, b) => a - b),
    );
  });
});
