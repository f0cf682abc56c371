import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ByteBudget } from './byte-budget.js';

describe('ByteBudget', () => {
  it('lets reservations cover up to the capacity, and no further', () => {
    const budget = new ByteBudget(100);
    const a = budget.open();
    const b = budget.open();
    assert.equal(a.cover(60), true);
    assert.equal(b.cover(50), false, 'only 40 left');
    assert.equal(b.bytes, 0, 'a refused cover takes nothing');
    assert.equal(b.cover(40), true);
    assert.equal(budget.inUse, 100);
  });

  it('grows a reservation by the difference only, and never shrinks it', () => {
    const budget = new ByteBudget(100);
    const r = budget.open();
    for (const total of [10, 30, 30, 20, 70]) assert.equal(r.cover(total), true);
    assert.equal(r.bytes, 70);
    assert.equal(budget.inUse, 70);
    assert.equal(r.cover(101), false);
    assert.equal(r.bytes, 70, 'a refused growth keeps what was held');
  });

  it('releases exactly once, however often release is called', () => {
    const budget = new ByteBudget(100);
    const a = budget.open();
    const b = budget.open();
    a.cover(60);
    b.cover(40);
    a.release();
    a.release();
    assert.equal(budget.inUse, 40, 'a second release must not give back b bytes');
    assert.equal(a.cover(10), false, 'a released reservation takes nothing more');
    b.release();
    assert.equal(budget.inUse, 0);
    assert.equal(budget.open().cover(100), true, 'the whole capacity is free again');
  });

  it('refuses a capacity that is not a positive integer', () => {
    for (const capacity of [0, -1, 1.5, Number.NaN])
      assert.throws(() => new ByteBudget(capacity), RangeError);
  });
});
