import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DedupIndex } from './dedup-index.js';

const EXP = 1_000_000;

describe('DedupIndex', () => {
  it('answers first for a new imp and duplicate after', () => {
    const idx = new DedupIndex();
    assert.equal(idx.decide('click', 'imp-aaaaaaaa', 0, EXP), 'first');
    assert.equal(idx.decide('click', 'imp-aaaaaaaa', 1, EXP), 'duplicate');
    assert.equal(idx.decide('click', 'imp-bbbbbbbb', 2, EXP), 'first');
    assert.equal(idx.size, 2);
  });

  it('keeps clicks and impressions apart', () => {
    const idx = new DedupIndex();
    assert.equal(idx.decide('impression', 'imp-aaaaaaaa', 0, EXP), 'first');
    assert.equal(idx.decide('click', 'imp-aaaaaaaa', 1, EXP), 'first');
    assert.equal(idx.decide('impression', 'imp-aaaaaaaa', 2, EXP), 'duplicate');
    assert.equal(idx.decide('click', 'imp-aaaaaaaa', 3, EXP), 'duplicate');
    assert.equal(idx.size, 2);
  });

  it('lists new entries once, then forgets the list', () => {
    const idx = new DedupIndex();
    idx.decide('click', 'imp-aaaaaaaa', 7, EXP);
    idx.decide('click', 'imp-aaaaaaaa', 8, EXP);
    idx.decide('impression', 'imp-aaaaaaaa', 9, EXP);
    assert.deepEqual(idx.takeNew(), [
      { kind: 'click', imp: 'imp-aaaaaaaa', firstOffset: 7, expiresAt: EXP },
      { kind: 'impression', imp: 'imp-aaaaaaaa', firstOffset: 9, expiresAt: EXP },
    ]);
    assert.deepEqual(idx.takeNew(), []);
    idx.decide('click', 'imp-aaaaaaaa', 10, EXP);
    assert.deepEqual(idx.takeNew(), []);
  });

  it('after a crash, answers first again for the replay of the very event, duplicate for any other', () => {
    const before = new DedupIndex();
    assert.equal(before.decide('click', 'imp-aaaaaaaa', 5, EXP), 'first');
    const persisted = before.takeNew();
    // Crash: the counts of offset 5 were lost, the dedup entry was persisted.
    const after = new DedupIndex(persisted);
    assert.equal(after.decide('click', 'imp-aaaaaaaa', 5, EXP), 'first');
    assert.equal(after.decide('click', 'imp-aaaaaaaa', 6, EXP), 'duplicate');
    assert.equal(after.decide('click', 'imp-aaaaaaaa', 5, EXP), 'first', 'a second replay too');
    assert.deepEqual(after.takeNew(), [], 'a restored entry is not new');
  });

  it('extends an expiry for a later token of the same imp and lists the entry again, once', () => {
    const idx = new DedupIndex();
    idx.decide('click', 'imp-aaaaaaaa', 1, EXP);
    idx.takeNew();
    assert.equal(idx.decide('click', 'imp-aaaaaaaa', 2, EXP + 10), 'duplicate');
    assert.equal(idx.decide('click', 'imp-aaaaaaaa', 3, EXP + 20), 'duplicate');
    assert.equal(idx.decide('click', 'imp-aaaaaaaa', 4, EXP - 50), 'duplicate');
    assert.deepEqual(idx.takeNew(), [
      { kind: 'click', imp: 'imp-aaaaaaaa', firstOffset: 1, expiresAt: EXP + 20 },
    ]);
    assert.equal(idx.expire(EXP + 20), 0);
  });

  it('restores conflicting copies to the lowest offset and the latest expiry', () => {
    const idx = new DedupIndex([
      { kind: 'click', imp: 'imp-aaaaaaaa', firstOffset: 9, expiresAt: EXP + 5 },
      { kind: 'click', imp: 'imp-aaaaaaaa', firstOffset: 4, expiresAt: EXP },
    ]);
    assert.equal(idx.size, 1);
    assert.equal(idx.decide('click', 'imp-aaaaaaaa', 4, EXP), 'first');
    assert.equal(idx.decide('click', 'imp-aaaaaaaa', 9, EXP), 'duplicate');
    assert.equal(idx.expire(EXP + 5), 0);
    assert.equal(idx.expire(EXP + 6), 1);
  });

  it('expires entries strictly before the horizon, after which the imp is first again', () => {
    const idx = new DedupIndex();
    idx.decide('click', 'imp-old00000', 0, 100);
    idx.decide('impression', 'imp-old00000', 1, 100);
    idx.decide('click', 'imp-edge0000', 2, 200);
    idx.decide('click', 'imp-new00000', 3, 300);
    assert.equal(idx.expire(200), 2);
    assert.equal(idx.size, 2);
    assert.equal(idx.decide('click', 'imp-edge0000', 4, 200), 'duplicate', 'expiresAt == horizon is kept');
    // Reachable only for an event the collector would already have marked
    // `expired` (its token's TTL is over), which never reaches dedup; the
    // aggregator keeps entries past the TTL by the lateness plus a margin.
    assert.equal(idx.decide('click', 'imp-old00000', 5, 100), 'first');
    assert.equal(idx.expire(Number.POSITIVE_INFINITY), 3);
    assert.equal(idx.size, 0);
  });
});
