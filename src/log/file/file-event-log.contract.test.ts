import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventAppender } from '../event-log.js';
import { eventLogContract } from '../event-log.contract.js';
import { FileEventAppender } from './file-event-appender.js';
import { openFileEventLog, type FileEventLog } from './file-event-log.js';

// The file log is one partition; it locks its directory, so its reader is the
// open log itself while the appender is open, and a fresh instance after.
eventLogContract('file log', () => {
  const dir = mkdtempSync(join(tmpdir(), 'adtally-log-contract-'));
  let current: FileEventLog | undefined;
  return Promise.resolve({
    async open(): Promise<EventAppender> {
      const log = await openFileEventLog(dir);
      current = log;
      const appender = new FileEventAppender(log);
      return {
        partitions: appender.partitions,
        append: (payload, key) => appender.append(payload, key),
        check: () => appender.check(),
        close: async () => {
          await appender.close();
          if (current === log) current = undefined;
        },
      };
    },
    async openReader(partition) {
      if (partition !== 0) throw new RangeError(`the file log has one partition, not ${partition + 1}`);
      if (current !== undefined) {
        const log = current;
        return {
          durableEnd: () => log.durableEnd(),
          startOffset: () => log.startOffset(),
          read: (from, maxBytes) => log.read(from, maxBytes),
          close: () => Promise.resolve(),
        };
      }
      return openFileEventLog(dir);
    },
    async cleanup() {
      await current?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
});
