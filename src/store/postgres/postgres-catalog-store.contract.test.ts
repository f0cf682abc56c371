import { after, before } from 'node:test';
import { catalogStoreContract } from '../catalog-store.contract.js';
import { createFreshDatabase, type FreshDatabase } from './fresh-test-database.js';
import { PostgresCatalogStore } from './postgres-catalog-store.js';
import { PostgresDatabase } from './postgres-database.js';

let database: FreshDatabase;
before(async () => {
  database = await createFreshDatabase('catalog_contract');
});
after(async () => {
  await database.drop();
});

/** Every test starts from an empty catalog (ids from 1 again) in this file's own database. */
catalogStoreContract('PostgreSQL', async () => {
  const db = await PostgresDatabase.open(database.url);
  const store = await PostgresCatalogStore.create(db);
  await db.query('TRUNCATE ads, campaigns, advertisers RESTART IDENTITY');
  return store;
});
