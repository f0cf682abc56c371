import type { EventAppender, EventLog, LogPosition, PartitionKey } from '../event-log.js';

/**
 * The file log seen through the collector's port: one partition, so every
 * event lands in partition 0 at the file log's own offset, and the group
 * commit is the file log's (one fdatasync for the appends that arrive
 * together).
 */
export class FileEventAppender implements EventAppender {
  readonly partitions = 1;

  constructor(private readonly log: EventLog) {}

  async append(payload: Buffer, _key: PartitionKey): Promise<LogPosition> {
    return { partition: 0, offset: await this.log.append(payload) };
  }

  check(): Promise<void> {
    return this.log.check();
  }

  close(): Promise<void> {
    return this.log.close();
  }
}
