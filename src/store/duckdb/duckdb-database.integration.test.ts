import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DuckDbDatabase } from './duckdb-database.js';

void test('afterCommit runs once committed, before the next statement, and never after a rollback', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'adtally-db-'));
  const db = await DuckDbDatabase.open(join(dir, 'store.duckdb'));
  try {
    await db.run('CREATE TABLE t (v INTEGER)');
    const order: string[] = [];
    const committed = db.transaction(
      async (tx) => {
        await tx.run('INSERT INTO t VALUES (1)');
        return 'one';
      },
      (result) => order.push(`afterCommit ${result}`),
    );
    // Queued behind the transaction: must see the index change already made.
    const next = db.all('SELECT count(*)::INTEGER AS n FROM t').then(() => order.push('next statement'));
    await Promise.all([committed, next]);
    assert.deepEqual(order, ['afterCommit one', 'next statement']);

    const failed = db.transaction(
      async (tx) => {
        await tx.run('INSERT INTO t VALUES (2)');
        throw new Error('injected');
      },
      () => order.push('afterCommit of a rollback'),
    );
    await assert.rejects(failed, /injected/);
    assert.deepEqual(await db.all('SELECT v FROM t ORDER BY v'), [{ v: 1 }]);
    assert.equal(order.length, 2);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
