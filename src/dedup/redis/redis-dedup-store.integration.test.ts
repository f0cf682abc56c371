import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { DedupClaim } from '../dedup-store.js';
import { DedupStateLostError, DedupUnavailableError } from '../dedup-errors.js';
import { openDedupStore } from '../open-dedup-store.js';
import { RedisDedupStore } from './redis-dedup-store.js';
import { RedisServerProcess } from './redis-server-process.js';

// These tests stop, freeze and restart Redis, so each runs its own redis-server on a free port.
const servers: RedisServerProcess[] = [];
after(async () => {
  for (const server of servers) await server.kill();
});

async function ownServer(extraArgs: readonly string[] = []): Promise<RedisServerProcess> {
  const server = await RedisServerProcess.start(extraArgs);
  servers.push(server);
  return server;
}

function openOn(
  server: RedisServerProcess,
  options: Partial<Parameters<typeof RedisDedupStore.open>[0]> = {},
) {
  return RedisDedupStore.open({ host: '127.0.0.1', port: server.port, prefix: 'it', ...options });
}

const click = (imp: string, offset: number, partition = 0): DedupClaim => ({
  kind: 'click',
  ad: 42,
  imp,
  partition,
  offset,
  expiresAt: Date.now() + 3_600_000,
});

/** Polls `probe` until it settles as `accept` says, or fails after `ms`. */
async function eventually(
  what: string,
  probe: () => Promise<unknown>,
  accept: (outcome: unknown) => boolean,
  ms = 10_000,
) {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    last = await probe().then(
      () => 'resolved',
      (error: unknown) => error,
    );
    if (accept(last)) return;
    await sleep(50);
  }
  assert.fail(`${what}: still ${String(last)} after ${ms} ms`);
}

describe('RedisDedupStore against a Redis of its own', { timeout: 60_000 }, () => {
  test('Redis down: claim and check reject with the reason; back without its data: DedupStateLostError until acknowledged', async () => {
    const server = await ownServer();
    const store = await openOn(server, { commandTimeoutMs: 500 });
    try {
      assert.equal(store.createdInstance, true);
      assert.deepEqual(await store.claim([click('before-loss', 1)]), ['first']);

      await server.kill();
      const started = Date.now();
      await assert.rejects(store.claim([click('during', 2)]), (error: unknown) => {
        assert.ok(error instanceof DedupUnavailableError, String(error));
        assert.equal(error.retriable, true);
        assert.match(error.message, new RegExp(`Redis dedup store at 127\\.0\\.0\\.1:${server.port}`));
        return true;
      });
      // No offline queue: the rejection comes at once, not after Redis returns (bounded, not timed).
      assert.ok(Date.now() - started < 5000);
      await assert.rejects(store.check(), DedupUnavailableError);

      await server.restart();
      // The client reconnects by itself; the empty Redis then shows the loss, not a fault.
      await eventually(
        'check after restart',
        () => store.check(),
        (o) => o instanceof DedupStateLostError,
      );
      await assert.rejects(store.claim([click('before-loss', 3)]), (error: unknown) => {
        assert.ok(error instanceof DedupStateLostError, String(error));
        assert.equal(error.retriable, false);
        assert.match(
          error.message,
          /lost its state since it was opened \(the instance sentinel it:instance is missing\)/,
        );
        return true;
      });

      await store.acknowledgeLoss();
      await store.check();
      // The loss window, shown: a duplicate of an impression seen before the loss is first again.
      assert.deepEqual(await store.claim([click('before-loss', 3), click('before-loss', 4)]), [
        'first',
        'duplicate',
      ]);
    } finally {
      await store.close();
    }
  });

  test('a frozen Redis (SIGSTOP) makes claims reject after the command timeout; it works again when resumed', async () => {
    const server = await ownServer();
    const store = await openOn(server, { commandTimeoutMs: 300 });
    try {
      server.pause();
      await assert.rejects(store.claim([click('frozen', 1)]), (error: unknown) => {
        assert.ok(error instanceof DedupUnavailableError, String(error));
        assert.match(error.message, /timed out/i);
        return true;
      });
      await assert.rejects(store.check(), DedupUnavailableError);
      server.resume();
      // The timed-out claim may still have run once Redis resumed: retrying the same batch is the
      // replay of its own position, first again.
      await eventually(
        'claim after resume',
        () => store.claim([click('frozen', 1)]),
        (o) => o === 'resolved',
      );
      assert.deepEqual(await store.claim([click('frozen', 1), click('frozen', 2)]), ['first', 'duplicate']);
    } finally {
      server.resume();
      await store.close();
    }
  });

  test('a flushed script cache (NOSCRIPT) is reloaded transparently', async () => {
    const server = await ownServer();
    const store = await openOn(server);
    const admin = new Redis({ port: server.port, host: '127.0.0.1' });
    try {
      assert.deepEqual(await store.claim([click('noscript', 1)]), ['first']);
      await admin.script('FLUSH');
      assert.deepEqual(await store.claim([click('noscript', 2), click('noscript', 1)]), [
        'duplicate',
        'first',
      ]);
    } finally {
      admin.disconnect();
      await store.close();
    }
  });

  test('workers sharing a Redis: one first per impression under concurrent claims; a re-created sentinel is adopted by all', async () => {
    const server = await ownServer();
    const [a, b] = [await openOn(server, { claimsPerCall: 7 }), await openOn(server, { claimsPerCall: 7 })];
    try {
      assert.equal(a.createdInstance, true);
      assert.equal(b.createdInstance, false);
      assert.equal(a.instanceId, b.instanceId);
      const imps = Array.from({ length: 500 }, () => randomBytes(12).toString('base64url'));
      // The same impressions read on two partitions (a hot ad), claimed at once by two workers.
      const [fromA, fromB] = await Promise.all([
        a.claim(imps.map((imp, i) => click(imp, i, 0))),
        b.claim(imps.map((imp, i) => click(imp, i, 1))),
      ]);
      for (let i = 0; i < imps.length; i++) {
        assert.equal([fromA[i], fromB[i]].filter((d) => d === 'first').length, 1, `imp ${i}`);
      }

      const admin = new Redis({ port: server.port, host: '127.0.0.1' });
      await admin.flushall();
      admin.disconnect();
      await assert.rejects(a.claim([click('x', 1)]), DedupStateLostError);
      await a.acknowledgeLoss();
      // b's sentinel was replaced by a's: b sees the loss too, then adopts a's rather than writing its own.
      await assert.rejects(b.claim([click('x', 1)]), /was re-created/);
      await b.acknowledgeLoss();
      assert.equal(a.instanceId, b.instanceId);
      assert.deepEqual(await a.claim([click('y', 1)]), ['first']);
      assert.deepEqual(await b.claim([click('y', 2)]), ['duplicate']);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('a full Redis (maxmemory, noeviction) rejects claims as unavailable instead of evicting entries', async () => {
    const server = await ownServer(['--maxmemory', '3mb', '--maxmemory-policy', 'noeviction']);
    const store = await openOn(server);
    try {
      let error: unknown;
      for (let batch = 0; batch < 200 && error === undefined; batch++) {
        const claims = Array.from({ length: 1000 }, (_, i) => click(`${batch}-${i}-${'x'.repeat(20)}`, i));
        error = await store.claim(claims).then(
          () => undefined,
          (e: unknown) => e,
        );
      }
      assert.ok(error instanceof DedupUnavailableError, String(error));
      assert.match(error.message, /OOM/);
    } finally {
      await store.close();
    }
  });

  test('open refuses a Redis that evicts keys, and one that does not answer', async () => {
    const evicting = await ownServer(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
    await assert.rejects(openOn(evicting), /evicts keys at maxmemory \(maxmemory-policy allkeys-lru\)/);
    const gone = await ownServer();
    await gone.kill();
    await assert.rejects(
      openDedupStore(`redis://127.0.0.1:${gone.port}`, { connectTimeoutMs: 1000 }),
      (error: unknown) => {
        assert.ok(error instanceof DedupUnavailableError, String(error));
        assert.match(
          error.message,
          new RegExp(
            `cannot connect to the Redis dedup store at 127\\.0\\.0\\.1:${gone.port}: .*ECONNREFUSED`,
          ),
        );
        return true;
      },
    );
  });
});
