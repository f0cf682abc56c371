import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { CatalogStore } from './catalog-store.js';

/**
 * The CatalogStore contract: every adapter passes it. `open` gives a store on
 * an empty catalog for each test; the suite closes it.
 */
export function catalogStoreContract(adapter: string, open: () => Promise<CatalogStore>): void {
  describe(`CatalogStore contract: ${adapter}`, () => {
    const opened: CatalogStore[] = [];
    const fresh = async (): Promise<CatalogStore> => {
      const store = await open();
      opened.push(store);
      return store;
    };
    after(async () => {
      for (const store of opened.splice(0)) await store.close();
    });

    it('creates advertisers with ids from 1, finds them by key hash and by id, lists them in id order', async () => {
      const store = await fresh();
      const acme = await store.createAdvertiser('Acme', 'hash-acme');
      const globex = await store.createAdvertiser('Globex', 'hash-globex');
      assert.deepEqual(acme, { id: 1, name: 'Acme' });
      assert.deepEqual(globex, { id: 2, name: 'Globex' });
      assert.deepEqual(await store.findAdvertiserByKeyHash('hash-globex'), globex);
      assert.equal(await store.findAdvertiserByKeyHash('hash-nobody'), undefined);
      assert.deepEqual(await store.getAdvertiser(1), acme);
      assert.equal(await store.getAdvertiser(3), undefined);
      assert.deepEqual(await store.listAdvertisers(), [acme, globex]);
    });

    it('rotates an advertiser key: the new hash finds it, the old one no longer does', async () => {
      const store = await fresh();
      const acme = await store.createAdvertiser('Acme', 'old-hash');
      const globex = await store.createAdvertiser('Globex', 'globex-hash');
      assert.deepEqual(await store.rotateAdvertiserKey(acme.id, 'new-hash'), acme);
      assert.equal(await store.findAdvertiserByKeyHash('old-hash'), undefined);
      assert.deepEqual(await store.findAdvertiserByKeyHash('new-hash'), acme);
      assert.deepEqual(await store.findAdvertiserByKeyHash('globex-hash'), globex);
      assert.equal(await store.rotateAdvertiserKey(99, 'x'), undefined);
      await store.createCampaign(acme.id, 'referenced');
      assert.deepEqual(
        await store.rotateAdvertiserKey(acme.id, 'newer-hash'),
        acme,
        'again, with a campaign',
      );
      assert.deepEqual(await store.findAdvertiserByKeyHash('newer-hash'), acme);
      assert.equal(await store.findAdvertiserByKeyHash('new-hash'), undefined);
    });

    it('refuses a second advertiser with the same key hash', async () => {
      const store = await fresh();
      await store.createAdvertiser('Acme', 'same');
      await assert.rejects(store.createAdvertiser('Other', 'same'));
      assert.equal((await store.listAdvertisers()).length, 1);
    });

    it('creates campaigns under their advertiser and lists them all or by advertiser', async () => {
      const store = await fresh();
      const a = await store.createAdvertiser('A', 'ha');
      const b = await store.createAdvertiser('B', 'hb');
      const c1 = await store.createCampaign(a.id, 'spring');
      const c2 = await store.createCampaign(b.id, 'summer');
      const c3 = await store.createCampaign(a.id, 'autumn');
      assert.deepEqual(c1, { id: 1, advertiserId: a.id, name: 'spring' });
      assert.deepEqual(await store.getCampaign(c2.id), c2);
      assert.equal(await store.getCampaign(99), undefined);
      assert.deepEqual(await store.listCampaigns(), [c1, c2, c3]);
      assert.deepEqual(await store.listCampaigns(a.id), [c1, c3]);
      assert.deepEqual(await store.listCampaigns(99), []);
    });

    it('creates ads active and owned by the campaign advertiser, patches them, lists them', async () => {
      const store = await fresh();
      const a = await store.createAdvertiser('A', 'ha');
      const b = await store.createAdvertiser('B', 'hb');
      const ca = await store.createCampaign(a.id, 'ca');
      const cb = await store.createCampaign(b.id, 'cb');
      const ad1 = await store.createAd(ca, 'first', 'https://a.example/1');
      const ad2 = await store.createAd(cb, 'second', 'https://b.example/2?q=1&r=é');
      const ad3 = await store.createAd(ca, 'third', 'https://a.example/3');
      assert.deepEqual(ad1, {
        id: 1,
        campaignId: ca.id,
        advertiserId: a.id,
        name: 'first',
        targetUrl: 'https://a.example/1',
        active: true,
      });
      assert.equal(ad2.targetUrl, 'https://b.example/2?q=1&r=é');

      const paused = await store.updateAd(ad1.id, { active: false });
      assert.deepEqual(paused, { ...ad1, active: false });
      const moved = await store.updateAd(ad1.id, { targetUrl: 'https://a.example/new', name: 'renamed' });
      assert.deepEqual(moved, { ...ad1, active: false, targetUrl: 'https://a.example/new', name: 'renamed' });
      assert.deepEqual(await store.updateAd(ad1.id, {}), moved);
      assert.deepEqual(await store.updateAd(ad1.id, { active: true }), { ...moved, active: true });
      assert.equal(await store.updateAd(99, { active: false }), undefined);

      assert.deepEqual(await store.listAds(), [{ ...moved, active: true }, ad2, ad3]);
      assert.deepEqual(
        (await store.listAds(a.id)).map((ad) => ad.id),
        [ad1.id, ad3.id],
      );
      assert.deepEqual(await store.listAds(99), []);
    });

    it('answers ping', async () => {
      const store = await fresh();
      await store.ping();
    });
  });
}
