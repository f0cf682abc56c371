import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dedupStoreContract } from './dedup-store.contract.js';
import { MemoryDedupStore } from './memory-dedup-store.js';

dedupStoreContract('MemoryDedupStore', { open: () => Promise.resolve(new MemoryDedupStore()) });

test('MemoryDedupStore judges expiry by the clock it is given, and its sweep frees expired entries', async () => {
  let now = 1_000_000;
  const store = new MemoryDedupStore({ clock: () => now, sweepIntervalMs: 10_000 });
  const claim = (imp: string, offset: number, expiresAt: number) =>
    store.claim([{ kind: 'click', ad: 1, imp, partition: 0, offset, expiresAt }]);
  assert.deepEqual(await claim('a', 1, now + 5000), ['first']);
  assert.deepEqual(await claim('b', 2, now + 50_000), ['first']);
  now += 4999;
  // Live while now <= expiresAt (this claim's expiry is no later, so it does not extend the entry).
  assert.deepEqual(await claim('a', 3, now + 1), ['duplicate']);
  now += 2;
  assert.deepEqual(await claim('a', 4, now + 5000), ['first']);
  assert.equal(store.size, 2);
  now += 10_000;
  // The sweep runs with this claim: a's entry (expired) goes, b's stays, c's is new.
  assert.deepEqual(await claim('c', 5, now + 1), ['first']);
  assert.equal(store.size, 2);
  now += 40_000;
  assert.deepEqual(await claim('b', 6, now + 1), ['first']);
  await store.close();
  await assert.rejects(store.claim([]), /closed/);
  await assert.rejects(store.check(), /closed/);
});

test('MemoryDedupStore keeps the entries of other ads when one ad of a shared imp expires', async () => {
  let now = 0;
  const store = new MemoryDedupStore({ clock: () => now, sweepIntervalMs: 1 });
  const at = (ad: number, offset: number, expiresAt: number) => ({
    kind: 'impression' as const,
    ad,
    imp: 'shared-imp',
    partition: 1,
    offset,
    expiresAt,
  });
  assert.deepEqual(await store.claim([at(1, 1, 100), at(2, 2, 1000), at(3, 3, 100)]), [
    'first',
    'first',
    'first',
  ]);
  now = 200;
  assert.deepEqual(await store.claim([at(2, 9, 2000), at(1, 9, 2000), at(3, 3, 2000)]), [
    'duplicate',
    'first',
    'first',
  ]);
  assert.equal(store.size, 3);
});
