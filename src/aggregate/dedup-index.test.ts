import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ANY_AD, DedupIndex } from './dedup-index.js';

const EXP = 1_000_000;

describe('DedupIndex', () => {
  it('answers first for a new (ad, imp) and duplicate after', () => {
    const idx = new DedupIndex();
    assert.equal(idx.decide('click', 1, 'imp-aaaaaaaa', 0, EXP), 'first');
    assert.equal(idx.decide('click', 1, 'imp-aaaaaaaa', 1, EXP), 'duplicate');
    assert.equal(idx.decide('click', 1, 'imp-bbbbbbbb', 2, EXP), 'first');
    assert.equal(idx.size, 2);
  });

  it('keeps clicks and impressions apart', () => {
    const idx = new DedupIndex();
    assert.equal(idx.decide('impression', 1, 'imp-aaaaaaaa', 0, EXP), 'first');
    assert.equal(idx.decide('click', 1, 'imp-aaaaaaaa', 1, EXP), 'first');
    assert.equal(idx.decide('impression', 1, 'imp-aaaaaaaa', 2, EXP), 'duplicate');
    assert.equal(idx.decide('click', 1, 'imp-aaaaaaaa', 3, EXP), 'duplicate');
    assert.equal(idx.size, 2);
  });

  it('lists new entries once, then forgets the list', () => {
    const idx = new DedupIndex();
    idx.decide('click', 1, 'imp-aaaaaaaa', 7, EXP);
    idx.decide('click', 1, 'imp-aaaaaaaa', 8, EXP);
    idx.decide('impression', 1, 'imp-aaaaaaaa', 9, EXP);
    assert.deepEqual(idx.takeNew(), [
      { kind: 'click', ad: 1, imp: 'imp-aaaaaaaa', firstOffset: 7, expiresAt: EXP },
      { kind: 'impression', ad: 1, imp: 'imp-aaaaaaaa', firstOffset: 9, expiresAt: EXP },
    ]);
    assert.deepEqual(idx.takeNew(), []);
    idx.decide('click', 1, 'imp-aaaaaaaa', 10, EXP);
    assert.deepEqual(idx.takeNew(), []);
  });

  it('after a crash, answers first again for the replay of the very event, duplicate for any other', () => {
    const before = new DedupIndex();
    assert.equal(before.decide('click', 1, 'imp-aaaaaaaa', 5, EXP), 'first');
    const persisted = before.takeNew();
    // Crash: the counts of offset 5 were lost, the dedup entry was persisted.
    const after = new DedupIndex(persisted);
    assert.equal(after.decide('click', 1, 'imp-aaaaaaaa', 5, EXP), 'first');
    assert.equal(after.decide('click', 1, 'imp-aaaaaaaa', 6, EXP), 'duplicate');
    assert.equal(after.decide('click', 1, 'imp-aaaaaaaa', 5, EXP), 'first', 'a second replay too');
    assert.deepEqual(after.takeNew(), [], 'a restored entry is not new');
  });

  it('extends an expiry for a later token of the same imp and lists the entry again, once', () => {
    const idx = new DedupIndex();
    idx.decide('click', 1, 'imp-aaaaaaaa', 1, EXP);
    idx.takeNew();
    assert.equal(idx.decide('click', 1, 'imp-aaaaaaaa', 2, EXP + 10), 'duplicate');
    assert.equal(idx.decide('click', 1, 'imp-aaaaaaaa', 3, EXP + 20), 'duplicate');
    assert.equal(idx.decide('click', 1, 'imp-aaaaaaaa', 4, EXP - 50), 'duplicate');
    assert.deepEqual(idx.takeNew(), [
      { kind: 'click', ad: 1, imp: 'imp-aaaaaaaa', firstOffset: 1, expiresAt: EXP + 20 },
    ]);
    assert.equal(idx.expire(EXP + 20), 0);
  });

  it('restores conflicting copies to the lowest offset and the latest expiry', () => {
    const idx = new DedupIndex([
      { kind: 'click', ad: 1, imp: 'imp-aaaaaaaa', firstOffset: 9, expiresAt: EXP + 5 },
      { kind: 'click', ad: 1, imp: 'imp-aaaaaaaa', firstOffset: 4, expiresAt: EXP },
    ]);
    assert.equal(idx.size, 1);
    assert.equal(idx.decide('click', 1, 'imp-aaaaaaaa', 4, EXP), 'first');
    assert.equal(idx.decide('click', 1, 'imp-aaaaaaaa', 9, EXP), 'duplicate');
    assert.equal(idx.expire(EXP + 5), 0);
    assert.equal(idx.expire(EXP + 6), 1);
  });

  it('expires entries strictly before the horizon, after which the imp is first again', () => {
    const idx = new DedupIndex();
    idx.decide('click', 1, 'imp-old00000', 0, 100);
    idx.decide('impression', 1, 'imp-old00000', 1, 100);
    idx.decide('click', 1, 'imp-edge0000', 2, 200);
    idx.decide('click', 1, 'imp-new00000', 3, 300);
    assert.equal(idx.expire(200), 2);
    assert.equal(idx.size, 2);
    assert.equal(idx.decide('click', 1, 'imp-edge0000', 4, 200), 'duplicate', 'expiresAt == horizon is kept');
    // Reachable only for an event the collector would already have marked
    // `expired` (its token's TTL is over), which never reaches dedup; the
    // aggregator keeps entries past the TTL by the lateness plus a margin.
    assert.equal(idx.decide('click', 1, 'imp-old00000', 5, 100), 'first');
    assert.equal(idx.expire(Number.POSITIVE_INFINITY), 3);
    assert.equal(idx.size, 0);
  });

  it('keys by (ad, imp): the same imp on another ad is another impression', () => {
    const idx = new DedupIndex();
    assert.equal(idx.decide('click', 1, 'imp-aaaaaaaa', 0, EXP), 'first');
    assert.equal(idx.decide('click', 2, 'imp-aaaaaaaa', 1, EXP), 'first');
    assert.equal(idx.decide('click', 3, 'imp-aaaaaaaa', 2, EXP), 'first');
    assert.equal(idx.decide('click', 2, 'imp-aaaaaaaa', 3, EXP), 'duplicate');
    assert.equal(idx.decide('click', 1, 'imp-aaaaaaaa', 4, EXP), 'duplicate');
    assert.equal(
      idx.decide('click', 3, 'imp-aaaaaaaa', 2, EXP),
      'first',
      "the replay of the third ad's first",
    );
    assert.equal(idx.size, 3);
    assert.deepEqual(
      idx.takeNew().map((e) => [e.ad, e.firstOffset]),
      [
        [1, 0],
        [2, 1],
        [3, 2],
      ],
    );
  });

  it('restores entries of several ads for one imp, each merged with its own copies', () => {
    const idx = new DedupIndex([
      { kind: 'click', ad: 2, imp: 'imp-aaaaaaaa', firstOffset: 9, expiresAt: EXP },
      { kind: 'click', ad: 1, imp: 'imp-aaaaaaaa', firstOffset: 4, expiresAt: EXP },
      { kind: 'click', ad: 2, imp: 'imp-aaaaaaaa', firstOffset: 7, expiresAt: EXP + 5 },
    ]);
    assert.equal(idx.size, 2);
    assert.equal(idx.decide('click', 1, 'imp-aaaaaaaa', 4, EXP), 'first');
    assert.equal(idx.decide('click', 2, 'imp-aaaaaaaa', 7, EXP), 'first');
    assert.equal(idx.decide('click', 2, 'imp-aaaaaaaa', 9, EXP), 'duplicate');
    assert.equal(idx.decide('click', 3, 'imp-aaaaaaaa', 10, EXP), 'first');
    assert.equal(idx.expire(EXP + 1), 2, 'ads 1 and 3 expire, ad 2 took the later expiry');
    assert.equal(idx.size, 1);
    assert.equal(idx.decide('click', 1, 'imp-aaaaaaaa', 11, EXP + 60), 'first');
    assert.equal(idx.decide('click', 2, 'imp-aaaaaaaa', 12, EXP), 'duplicate');
    assert.equal(idx.expire(Number.POSITIVE_INFINITY), 2);
    assert.equal(idx.size, 0);
  });

  it('expires one ad of a shared imp and keeps the others', () => {
    const idx = new DedupIndex();
    idx.decide('impression', 1, 'imp-aaaaaaaa', 0, 100);
    idx.decide('impression', 2, 'imp-aaaaaaaa', 1, 300);
    idx.decide('impression', 3, 'imp-aaaaaaaa', 2, 100);
    idx.decide('impression', 4, 'imp-aaaaaaaa', 3, 300);
    assert.equal(idx.expire(200), 2);
    assert.equal(idx.size, 2);
    assert.equal(idx.decide('impression', 2, 'imp-aaaaaaaa', 5, 300), 'duplicate');
    assert.equal(idx.decide('impression', 4, 'imp-aaaaaaaa', 6, 300), 'duplicate');
    assert.equal(idx.decide('impression', 1, 'imp-aaaaaaaa', 7, 300), 'first');
    assert.equal(idx.size, 3);
  });

  it('an ANY_AD entry (migrated, ad unknown) answers for every ad, as the imp-only rule did', () => {
    const idx = new DedupIndex([
      { kind: 'click', ad: ANY_AD, imp: 'imp-aaaaaaaa', firstOffset: 4, expiresAt: EXP },
    ]);
    assert.equal(idx.decide('click', 7, 'imp-aaaaaaaa', 4, EXP), 'first', 'the replay of its own event');
    assert.equal(idx.decide('click', 7, 'imp-aaaaaaaa', 5, EXP), 'duplicate');
    assert.equal(idx.decide('click', 8, 'imp-aaaaaaaa', 6, EXP), 'duplicate');
    assert.equal(idx.decide('impression', 8, 'imp-aaaaaaaa', 7, EXP), 'first', 'kinds stay apart');
    assert.equal(idx.size, 2);
  });
});
