import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parseDurationMs } from './duration.js';

it('parses durations with units, bare numbers as seconds', () => {
  assert.equal(parseDurationMs('24h'), 86_400_000);
  assert.equal(parseDurationMs('5s'), 5000);
  assert.equal(parseDurationMs('250ms'), 250);
  assert.equal(parseDurationMs('1.5m'), 90_000);
  assert.equal(parseDurationMs('30'), 30_000);
  assert.equal(parseDurationMs('5 s'), undefined);
  assert.equal(parseDurationMs('-5s'), undefined);
  assert.equal(parseDurationMs('soon'), undefined);
});
