import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdOwners } from './ad-owners.js';

void test('AdOwners reads the catalog once, again only for an id it has never seen, never per batch for a missing one', async () => {
  const catalog = [{ id: 1, campaignId: 10, advertiserId: 100 }];
  let loads = 0;
  const owners = new AdOwners(() => {
    loads++;
    return Promise.resolve([...catalog]);
  });
  await owners.prepare(new Set([1]));
  assert.equal(loads, 1);
  assert.deepEqual(owners.ownerOf(1), { campaign: 10, advertiser: 100 });
  await owners.prepare(new Set([1]));
  assert.equal(loads, 1, 'known ids: no read');
  // An ad created since: one read finds it.
  catalog.push({ id: 2, campaignId: 20, advertiserId: 100 });
  await owners.prepare(new Set([1, 2]));
  assert.equal(loads, 2);
  assert.deepEqual(owners.ownerOf(2), { campaign: 20, advertiser: 100 });
  // An id the catalog does not hold: read once, then remembered as missing.
  await owners.prepare(new Set([3]));
  await owners.prepare(new Set([3]));
  assert.equal(loads, 3);
  assert.equal(owners.ownerOf(3), undefined);
  // A further new id reads again, and a reload forgets what was missing (it may exist now).
  catalog.push({ id: 3, campaignId: 30, advertiserId: 101 });
  await owners.prepare(new Set([4]));
  assert.equal(loads, 4);
  assert.deepEqual(owners.ownerOf(3), { campaign: 30, advertiser: 101 });
  await owners.prepare(new Set([]));
  assert.equal(loads, 4);
});
