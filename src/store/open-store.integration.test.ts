import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { emptyCounts } from '../aggregate/counts.js';
import { openServingStore } from './open-store.js';
import { createFreshDatabase } from './postgres/fresh-test-database.js';

describe('openServingStore', () => {
  it('opens PostgreSQL: both stores over one pool, a catalog watch, ping and close', async () => {
    const database = await createFreshDatabase('open_store');
    try {
      const store = await openServingStore(`${database.url}?pool=2`, { applicationName: 'adtally-test' });
      try {
        assert.equal(store.backend, 'postgres');
        let changes = 0;
        const watch = await store.watchCatalog!(() => changes++);
        const advertiser = await store.catalog.createAdvertiser('A', 'h');
        const campaign = await store.catalog.createCampaign(advertiser.id, 'c');
        const ad = await store.catalog.createAd(campaign, 'ad', 'https://a.example/');
        const minute = Math.floor(Date.now() / 60_000);
        await store.aggregates.commit('events/0', {
          deltas: [{ ad: ad.id, minute, counts: { ...emptyCounts(), clicks: 2 } }],
          lateDeltas: [],
          dedupAdded: [],
          dedupExpireBefore: undefined,
          checkpoint: { offset: 1, maxEventTime: undefined },
        });
        assert.equal((await store.aggregates.series([ad.id], minute, minute + 1, 1))[0]?.counts.clicks, 2);
        await store.ping();
        for (let waited = 0; changes < 3 && waited < 5_000; waited += 10) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        assert.equal(changes, 3, 'one notification per catalog write');
        await watch.close();
      } finally {
        await store.close();
        await store.close();
      }
    } finally {
      await database.drop();
    }
  });

  it('opens a DuckDB file, without a catalog watch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'adtally-open-store-'));
    try {
      const store = await openServingStore(`duckdb:${join(dir, 'x.duckdb')}`);
      assert.equal(store.backend, 'duckdb');
      assert.equal(store.watchCatalog, undefined);
      await store.catalog.createAdvertiser('A', 'h');
      await store.ping();
      await store.close();
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says why when PostgreSQL does not answer', async () => {
    await assert.rejects(
      openServingStore('postgres://postgres:secret@127.0.0.1:1/adtally?connect_timeout_ms=500'),
      (err: Error) => /does not answer/.test(err.message) && !err.message.includes('secret'),
    );
  });
});
