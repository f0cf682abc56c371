import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import type { ClaimKind, DedupClaim, DedupStore } from './dedup-store.js';

/** How the contract suite gets stores: a fresh, empty one per test, and (optionally) the last one again. */
export interface DedupStoreFactory {
  /** A new store with no entries, used by one test. */
  open(): Promise<DedupStore>;
  /** The state of the store `open` returned last, through a new handle (after that one was closed). */
  reopen?(): Promise<DedupStore>;
}

const HOUR = 3_600_000;

/** A claim whose token expires in an hour unless told otherwise. */
function claimOf(
  kind: ClaimKind,
  ad: number,
  imp: string,
  partition: number,
  offset: number,
  expiresAt = Date.now() + HOUR,
): DedupClaim {
  return { kind, ad, imp, partition, offset, expiresAt };
}

/** A fresh imp id, base64url like the real ones, so reruns never meet old entries. */
const newImp = (): string => randomBytes(12).toString('base64url');

async function withStore(
  factory: DedupStoreFactory,
  body: (store: DedupStore) => Promise<void>,
): Promise<void> {
  const store = await factory.open();
  try {
    await body(store);
  } finally {
    await store.close();
  }
}

/** Waits until the wall clock (Redis's too, on this machine) is past `instant`. */
async function waitPast(instant: number): Promise<void> {
  const left = instant - Date.now();
  if (left >= 0) await sleep(left + 50);
}

/**
 * The DedupStore contract (dedup-store.ts), run against every adapter: call
 * it from one test file per adapter with that adapter's factory.
 */
export function dedupStoreContract(name: string, factory: DedupStoreFactory): void {
  describe(`DedupStore contract: ${name}`, () => {
    test('the first claim of (kind, ad, imp) is first, another event of it a duplicate', () =>
      withStore(factory, async (store) => {
        const imp = newImp();
        assert.deepEqual(await store.claim([claimOf('click', 7, imp, 0, 10)]), ['first']);
        assert.deepEqual(await store.claim([claimOf('click', 7, imp, 0, 11)]), ['duplicate']);
        assert.deepEqual(await store.claim([claimOf('click', 7, imp, 0, 12)]), ['duplicate']);
      }));

    test('the same imp on another ad is another impression', () =>
      withStore(factory, async (store) => {
        const imp = newImp();
        assert.deepEqual(
          await store.claim([
            claimOf('click', 7, imp, 0, 10),
            claimOf('click', 8, imp, 0, 11),
            claimOf('click', 9, imp, 1, 3),
          ]),
          ['first', 'first', 'first'],
        );
        assert.deepEqual(await store.claim([claimOf('click', 8, imp, 0, 20)]), ['duplicate']);
        assert.deepEqual(await store.claim([claimOf('click', 10, imp, 0, 21)]), ['first']);
      }));

    test('impressions and clicks of one impression are decided apart', () =>
      withStore(factory, async (store) => {
        const imp = newImp();
        assert.deepEqual(
          await store.claim([claimOf('impression', 7, imp, 0, 1), claimOf('click', 7, imp, 0, 2)]),
          ['first', 'first'],
        );
        assert.deepEqual(
          await store.claim([claimOf('impression', 7, imp, 0, 3), claimOf('click', 7, imp, 0, 4)]),
          ['duplicate', 'duplicate'],
        );
      }));

    test('a forwarded record is claimed by its origin (ad 0), apart from impressions and clicks', () =>
      withStore(factory, async (store) => {
        const origin = `${newImp()}/4096`;
        assert.deepEqual(
          await store.claim([
            claimOf('forward', 0, origin, 2, 70),
            claimOf('click', 7, origin, 2, 70),
            claimOf('forward', 0, origin, 3, 9),
          ]),
          ['first', 'first', 'duplicate'],
        );
        // The first copy read again (a worker's replay) is first again; the second copy stays a duplicate.
        assert.deepEqual(
          await store.claim([claimOf('forward', 0, origin, 2, 70), claimOf('forward', 0, origin, 3, 9)]),
          ['first', 'duplicate'],
        );
      }));

    test('the replay of the first event (same partition and offset) is first again; any other position a duplicate', () =>
      withStore(factory, async (store) => {
        const imp = newImp();
        assert.deepEqual(await store.claim([claimOf('click', 7, imp, 2, 500)]), ['first']);
        assert.deepEqual(await store.claim([claimOf('click', 7, imp, 2, 500)]), ['first']);
        assert.deepEqual(
          await store.claim([
            claimOf('click', 7, imp, 2, 501),
            claimOf('click', 7, imp, 3, 500),
            claimOf('click', 7, imp, 2, 500),
          ]),
          ['duplicate', 'duplicate', 'first'],
        );
      }));

    test('within one batch a later claim sees the entries of earlier ones', () =>
      withStore(factory, async (store) => {
        const [a, b] = [newImp(), newImp()];
        assert.deepEqual(
          await store.claim([
            claimOf('click', 1, a, 0, 1),
            claimOf('click', 1, a, 0, 2),
            claimOf('click', 1, a, 1, 1),
            claimOf('click', 1, a, 0, 1),
            claimOf('impression', 1, b, 0, 3),
            claimOf('click', 1, b, 0, 4),
            claimOf('click', 1, b, 1, 5),
          ]),
          ['first', 'duplicate', 'duplicate', 'first', 'first', 'first', 'duplicate'],
        );
      }));

    test('an empty batch decides nothing', () =>
      withStore(factory, async (store) => {
        assert.deepEqual(await store.claim([]), []);
      }));

    test('an entry is forgotten once its expiresAt passed; a later expiresAt extends it, an earlier one does not shorten it', () =>
      withStore(factory, async (store) => {
        const [short, extended, kept] = [newImp(), newImp(), newImp()];
        const soon = Date.now() + 1500;
        assert.deepEqual(
          await store.claim([
            claimOf('click', 1, short, 0, 1, soon),
            claimOf('click', 1, short, 0, 2, soon),
            claimOf('click', 1, extended, 0, 3, soon),
            claimOf('click', 1, extended, 0, 3, Date.now() + HOUR),
            claimOf('click', 1, kept, 0, 5, Date.now() + HOUR),
            claimOf('click', 1, kept, 0, 6, soon),
          ]),
          ['first', 'duplicate', 'first', 'first', 'first', 'duplicate'],
        );
        await waitPast(soon);
        assert.deepEqual(
          await store.claim([
            claimOf('click', 1, short, 0, 2),
            claimOf('click', 1, short, 0, 1),
            claimOf('click', 1, extended, 0, 4),
            claimOf('click', 1, kept, 0, 7),
          ]),
          ['first', 'duplicate', 'duplicate', 'duplicate'],
        );
      }));

    test('a claim already expired is decided without writing: first only when a live entry holds its position', () =>
      withStore(factory, async (store) => {
        const [fresh, held] = [newImp(), newImp()];
        const past = Date.now() - 1000;
        assert.deepEqual(await store.claim([claimOf('click', 1, held, 0, 1)]), ['first']);
        assert.deepEqual(
          await store.claim([
            claimOf('click', 1, fresh, 0, 10, past),
            claimOf('click', 1, fresh, 0, 10, past),
            claimOf('click', 1, held, 0, 1, past),
            claimOf('click', 1, held, 0, 2, past),
          ]),
          ['duplicate', 'duplicate', 'first', 'duplicate'],
        );
        // Nothing was recorded for `fresh`: a live claim at another position is its first.
        assert.deepEqual(await store.claim([claimOf('click', 1, fresh, 0, 11)]), ['first']);
      }));

    test('a batch of 50,000 claims is decided in order', () =>
      withStore(factory, async (store) => {
        const imps = Array.from({ length: 25_000 }, newImp);
        const claims: DedupClaim[] = [];
        const expected: string[] = [];
        for (let i = 0; i < 50_000; i++) {
          const j = i % 25_000;
          // The second round: other positions (duplicates), except every 5000th, the replay of round one's.
          const replay = i >= 25_000 && j % 5000 === 0;
          const offset = replay ? j : i;
          claims.push(
            claimOf(i % 2 === 0 ? 'click' : 'impression', 1 + (j % 97), imps[j] as string, j % 3, offset),
          );
          expected.push(i < 25_000 || replay ? 'first' : 'duplicate');
        }
        const decisions = await store.claim(claims);
        assert.equal(decisions.length, 50_000);
        assert.deepEqual(decisions, expected);
      }));

    test('a malformed claim rejects the batch with the reason', () =>
      withStore(factory, async (store) => {
        const bad = { ...claimOf('click', 1, newImp(), 0, 1), offset: -1 };
        await assert.rejects(store.claim([claimOf('click', 1, newImp(), 0, 0), bad]), /claim 1: offset -1/);
        await assert.rejects(
          store.claim([{ ...bad, offset: 1, ad: 0 }]),
          /claim 0: ad 0 is not a positive integer/,
        );
      }));

    test('check resolves while the store answers', () =>
      withStore(factory, async (store) => {
        await store.check();
      }));

    const reopen = factory.reopen?.bind(factory);
    if (reopen !== undefined) {
      test('entries survive closing and reopening the store', async () => {
        const imp = newImp();
        await withStore(factory, async (store) => {
          assert.deepEqual(await store.claim([claimOf('impression', 3, imp, 1, 40)]), ['first']);
        });
        const again = await reopen();
        try {
          assert.deepEqual(
            await again.claim([claimOf('impression', 3, imp, 1, 41), claimOf('impression', 3, imp, 1, 40)]),
            ['duplicate', 'first'],
          );
        } finally {
          await again.close();
        }
      });
    }
  });
}
