import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addCounts, COUNT_COLUMNS, COUNT_FIELDS, emptyCounts, isZeroCounts } from './counts.js';

describe('bucket counts', () => {
  it('lists every field exactly once', () => {
    assert.deepEqual([...COUNT_FIELDS].sort(), Object.keys(emptyCounts()).sort());
    assert.equal(new Set(COUNT_FIELDS).size, COUNT_FIELDS.length);
    assert.deepEqual(Object.keys(COUNT_COLUMNS).sort(), [...COUNT_FIELDS].sort());
  });

  it('maps each field to its snake_case column', () => {
    for (const field of COUNT_FIELDS) {
      assert.equal(
        COUNT_COLUMNS[field],
        field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
      );
    }
    assert.equal(COUNT_COLUMNS.clickBadSignature, 'click_bad_signature');
  });

  it('adds field by field and starts from zeros', () => {
    const total = emptyCounts();
    assert.equal(isZeroCounts(total), true);
    addCounts(total, { ...emptyCounts(), clicks: 2, impressionExpired: 1 });
    const result = addCounts(total, { ...emptyCounts(), clicks: 1, clickBot: 4 });
    assert.equal(result, total);
    assert.deepEqual(total, { ...emptyCounts(), clicks: 3, clickBot: 4, impressionExpired: 1 });
    assert.equal(isZeroCounts(total), false);
  });
});
