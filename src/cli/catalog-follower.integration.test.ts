import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Catalog } from '../catalog/catalog.js';
import { openServingStore, type ServingStore } from '../store/open-store.js';
import { createFreshDatabase, type FreshDatabase } from '../store/postgres/fresh-test-database.js';
import { followCatalog } from './catalog-follower.js';

describe('followCatalog on PostgreSQL', () => {
  let database: FreshDatabase;
  const stores: ServingStore[] = [];
  before(async () => {
    database = await createFreshDatabase('catalog_follower');
  });
  after(async () => {
    for (const store of stores) await store.close();
    await database.drop();
  });

  it('refuses a key another process rotated, though this one had it cached', async () => {
    const open = async (): Promise<ServingStore> => {
      const store = await openServingStore(`${database.url}`, { applicationName: 'test' });
      stores.push(store);
      return store;
    };
    const writer = await Catalog.load((await open()).catalog);
    const { advertiser, apiKey } = await writer.createAdvertiser('Acme');
    const followed = await followCatalog(await open(), () => undefined);
    try {
      assert.deepEqual(await followed.catalog.authenticate(apiKey), advertiser, 'now cached');
      const rotated = await writer.rotateKey(advertiser.id);
      assert.ok(rotated);
      const deadline = Date.now() + 5_000;
      while ((await followed.catalog.authenticate(apiKey)) !== undefined) {
        assert.ok(Date.now() < deadline, 'the old key still works in the following process after 5 s');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.deepEqual(await followed.catalog.authenticate(rotated.apiKey), advertiser);
    } finally {
      await followed.close();
    }
  });
});
