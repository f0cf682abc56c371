import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeTempDir, readAll } from '../../../test/log/log-test-helpers.js';
import { LogPoisonedError, LogWriteError } from '../log-errors.js';
import { openFileEventLog, type FlushIo } from './file-event-log.js';

const failing = ['write', 'datasync'] as const;

for (const syscall of failing) {
  void test(`a failed ${syscall} rejects its batch as retriable, then poisons the log until reopened`, async () => {
    const { dir, remove } = makeTempDir('log-fault');
    try {
      let flushes = 0;
      let appendedDuringFailingFlush: Promise<number> | undefined;
      const injected = new Error(`EIO: injected ${syscall} failure`);
      const io: FlushIo = {
        write: async (handle, data, position) => {
          flushes++;
          // Arrives while the failing flush is in flight: waits for the next one, which never comes.
          if (flushes === 3) appendedDuringFailingFlush = log.append(Buffer.from('queued-behind-failure'));
          if (flushes === 3 && syscall === 'write') throw injected;
          await handle.write(data, 0, data.length, position);
        },
        datasync: async (handle) => {
          if (flushes === 3 && syscall === 'datasync') throw injected;
          await handle.datasync();
        },
      };
      const log = await openFileEventLog(dir, { io, preallocateBytes: 0 });
      const acked = [await log.append(Buffer.from('one')), await log.append(Buffer.from('two'))];
      await log.check();

      const failedBatch = [log.append(Buffer.from('three-a')), log.append(Buffer.from('three-b'))];
      for (const append of failedBatch) {
        await assert.rejects(append, (e: unknown) => {
          return e instanceof LogWriteError && e.retriable && e.cause === injected;
        });
      }
      assert.ok(appendedDuringFailingFlush !== undefined);
      await assert.rejects(appendedDuringFailingFlush, LogPoisonedError);
      await assert.rejects(log.append(Buffer.from('after')), (e: unknown) => {
        return e instanceof LogPoisonedError && !e.retriable && /reopen/.test(e.message);
      });
      await assert.rejects(log.check(), LogPoisonedError, 'readiness reports the poisoned log');
      assert.equal(log.durableEnd(), acked[1]! + 8 + 3, 'the failed batch is not counted as durable');
      assert.equal((await readAll(log)).length, 2, 'readers do not see the failed batch');
      await log.close();

      // Reopening runs recovery; the acknowledged records are there, appends work again.
      const reopened = await openFileEventLog(dir);
      const records = await readAll(reopened);
      assert.deepEqual(
        records.slice(0, 2).map((r) => [r.offset, r.payload.toString()]),
        [
          [acked[0], 'one'],
          [acked[1], 'two'],
        ],
      );
      const next = await reopened.append(Buffer.from('four'));
      assert.equal((await readAll(reopened)).at(-1)?.offset, next);
      await reopened.close();
    } finally {
      remove();
    }
  });
}
