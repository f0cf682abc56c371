import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseReconcileConfig } from './reconcile-config.js';
import { ConfigError } from './settings.js';

const NOW = Date.parse('2026-11-24T10:17:30Z');
const minute = (iso: string): number => Date.parse(iso) / 60_000;

describe('parseReconcileConfig', () => {
  it('defaults to the last 24 whole hours and the data dir of serve', () => {
    const config = parseReconcileConfig(['--data-dir', '/d'], {}, NOW);
    assert.ok(config !== 'help');
    assert.deepEqual(
      [config.fromMinute, config.toMinute],
      [minute('2026-11-23T10:00Z'), minute('2026-11-24T10:00Z')],
    );
    assert.equal(config.store, 'duckdb:/d/adtally.duckdb');
    assert.equal(config.archive, 'file:/d/archive');
    assert.equal(config.url, 'http://127.0.0.1:8080');
    const port = parseReconcileConfig([], { ADTALLY_PORT: '9090' }, NOW);
    assert.equal(port !== 'help' && port.url, 'http://127.0.0.1:9090');
  });

  it('widens --from and --to to whole minutes, and 24 hours before --to without --from', () => {
    const config = parseReconcileConfig(
      ['--from', '2026-11-24T08:00:30Z', '--to', '2026-11-24T09:00:01Z'],
      {},
      NOW,
    );
    assert.ok(config !== 'help');
    assert.deepEqual(
      [config.fromMinute, config.toMinute],
      [minute('2026-11-24T08:00Z'), minute('2026-11-24T09:01Z')],
    );
    const onlyTo = parseReconcileConfig(['--to', '2026-11-24T09:00:00Z'], {}, NOW);
    assert.ok(onlyTo !== 'help');
    assert.equal(onlyTo.toMinute - onlyTo.fromMinute, 24 * 60);
  });

  for (const [argv, message] of [
    [['--frm', 'x'], /Unknown option '--frm'/],
    [['--from', 'yesterday'], /from must be an ISO 8601 instant/],
    [['--from', '2026-11-24T09:00Z', '--to', '2026-11-24T08:00Z'], /from must be before to/],
    [['--from', '2025-01-01T00:00Z', '--to', '2026-11-24T08:00Z'], /at most 400 days/],
    [['--store', 'postgres://u@h:5432/db'], /needs the kafka:\/\/ event log/],
    [['--store', 'mysql://h/db'], /unsupported scheme mysql:/],
  ] as const) {
    it(`refuses ${argv.join(' ')} with a ConfigError (exit 2)`, () => {
      assert.throws(
        () => parseReconcileConfig(argv, {}, NOW),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError, String(err));
          assert.match(err.message, message);
          return true;
        },
      );
    });
  }
});
