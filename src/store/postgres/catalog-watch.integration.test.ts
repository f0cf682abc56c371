import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { watchCatalog } from './catalog-watch.js';
import { createFreshDatabase, type FreshDatabase } from './fresh-test-database.js';
import { CATALOG_CHANNEL, PostgresCatalogStore } from './postgres-catalog-store.js';
import { PostgresDatabase } from './postgres-database.js';

/** Resolves once `check()` holds, polling; rejects after `ms`. */
async function until(what: string, check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('PostgresCatalogStore change notification', () => {
  let database: FreshDatabase;
  const opened: PostgresDatabase[] = [];
  const open = async (): Promise<{ db: PostgresDatabase; catalog: PostgresCatalogStore }> => {
    const db = await PostgresDatabase.open(database.url);
    opened.push(db);
    return { db, catalog: await PostgresCatalogStore.create(db) };
  };
  before(async () => {
    database = await createFreshDatabase('catalog_watch');
  });
  after(async () => {
    for (const db of opened) await db.close();
    await database.drop();
  });

  it('tells a watcher in another process of every write, and of nothing else', async () => {
    const writer = await open();
    const reader = await open();
    let changes = 0;
    const watch = await reader.catalog.watchCatalog(() => changes++);
    try {
      const advertiser = await writer.catalog.createAdvertiser('A', 'ha');
      await until('the advertiser', () => changes === 1);
      const campaign = await writer.catalog.createCampaign(advertiser.id, 'c');
      await until('the campaign', () => changes === 2);
      const ad = await writer.catalog.createAd(campaign, 'ad', 'https://a.example/');
      await until('the ad', () => changes === 3);
      await writer.catalog.updateAd(ad.id, { active: false });
      await until('the pause', () => changes === 4);
      // The watcher sees the write when told: the notification comes after the commit.
      assert.equal((await reader.catalog.listAds())[0]?.active, false);
      // Reads, and an update of no ad, notify no one.
      await writer.catalog.updateAd(999, { active: false });
      await writer.catalog.listAds();
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(changes, 4);
    } finally {
      await watch.close();
    }
  });

  it('reconnects after its connection is killed, calls onChange once for what it may have missed, and keeps listening', async () => {
    const writer = await open();
    const reader = await open();
    let changes = 0;
    const errors: Error[] = [];
    const watch = await reader.catalog.watchCatalog(() => changes++, {
      onError: (e) => errors.push(e),
      retryMs: 50,
    });
    try {
      // What a server restart does to the listening backend.
      const [{ killed }] = (await writer.db.query<{ killed: number }>(
        `SELECT count(pg_terminate_backend(pid))::int AS killed FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'adtally-catalog-watch'`,
      )) as [{ killed: number }];
      assert.equal(killed, 1);
      await until('the reconnection', () => changes === 1);
      assert.ok(errors.length >= 1);
      await writer.catalog.createAdvertiser('B', 'hb');
      await until('a write after the reconnection', () => changes === 2);
    } finally {
      await watch.close();
    }
  });

  it('rejects when the first connection fails', async () => {
    const url = new URL(database.url);
    url.pathname = `/${database.name}_missing`;
    await assert.rejects(
      watchCatalog(
        () => new pg.Client({ connectionString: url.toString() }),
        CATALOG_CHANNEL,
        () => undefined,
      ),
      /does not exist/,
    );
  });
});
