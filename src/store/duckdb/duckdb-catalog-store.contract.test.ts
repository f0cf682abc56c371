import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { catalogStoreContract } from '../catalog-store.contract.js';
import { DuckDbCatalogStore } from './duckdb-catalog-store.js';
import { DuckDbDatabase } from './duckdb-database.js';

const dir = mkdtempSync(join(tmpdir(), 'adtally-catalog-contract-'));
let files = 0;
after(() => rmSync(dir, { recursive: true, force: true }));

catalogStoreContract('DuckDB', async () =>
  DuckDbCatalogStore.create(await DuckDbDatabase.open(join(dir, `catalog-${++files}.duckdb`))),
);
