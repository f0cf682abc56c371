import type { Consumer } from '@platformatic/kafka';
import { ORIGIN_HEADER } from './kafka-event-appender.js';
import type { LogBatch, LogReader, LogRecord } from '../event-log.js';
import { describeKafkaError, KafkaErrorCodes, kafkaErrorCode } from './kafka-errors.js';

/** How long a fetch waits at the broker for records when there are none (a long poll). */
export const DEFAULT_FETCH_WAIT_MS = 100;
const EMPTY = Buffer.alloc(0);

/**
 * Reads one partition of a topic by offset with Fetch requests (no consumer
 * group, no committed offsets): what both the plain partition reader and a
 * group member's lease read with. Offsets are Kafka's own (one per record,
 * increasing); `next` is one past the last record returned, or past the last
 * batch the broker skipped (so gaps left by compaction or aborted batches do
 * not stall a reader).
 *
 * `durableEnd()` is the high watermark (what every in-sync replica has, the
 * Kafka meaning of durable) as last seen; every read refreshes it.
 */
export class PartitionFetcher implements LogReader {
  private highWatermark = 0;
  private logStart = 0;
  private topicId: string | undefined;
  private leader: number | undefined;

  constructor(
    private readonly consumer: Consumer,
    readonly topic: string,
    readonly partition: number,
    private readonly fetchWaitMs = DEFAULT_FETCH_WAIT_MS,
  ) {}

  /** Learns the partition's leader, start offset and high watermark. */
  async refresh(): Promise<void> {
    await this.locate(true);
    const partitions = { [this.topic]: [this.partition] };
    const [earliest, latest] = await Promise.all([
      this.consumer.listOffsets({ topics: [this.topic], partitions, timestamp: -2n }),
      this.consumer.listOffsets({ topics: [this.topic], partitions, timestamp: -1n }),
    ]);
    this.logStart = Number(earliest.get(this.topic)?.[this.partition] ?? 0n);
    this.highWatermark = Number(latest.get(this.topic)?.[this.partition] ?? 0n);
  }

  durableEnd(): number {
    return this.highWatermark;
  }

  startOffset(): number {
    return this.logStart;
  }

  async read(from: number, maxBytes: number): Promise<LogBatch> {
    if (!Number.isSafeInteger(from) || from < 0)
      throw new RangeError(`read offset must be >= 0, got ${from}`);
    try {
      return await this.fetch(from, maxBytes);
    } catch (error) {
      if (error instanceof RangeError) throw error;
      // A moved leader or a restarted broker: find the partition again, then try once more.
      await this.locate(true).catch(() => undefined);
      return this.fetch(from, maxBytes).catch((again: unknown) => {
        if (again instanceof RangeError) throw again;
        throw new Error(
          `Kafka fetch of ${this.topic}[${this.partition}] at offset ${from} failed: ${describeKafkaError(again)}`,
          { cause: again },
        );
      });
    }
  }

  private async fetch(from: number, maxBytes: number): Promise<LogBatch> {
    const { topicId, leader } = await this.locate(false);
    let response;
    try {
      response = await this.consumer.fetch({
        node: leader,
        maxWaitTime: this.fetchWaitMs,
        minBytes: 1,
        maxBytes,
        topics: [
          {
            topicId,
            partitions: [
              {
                partition: this.partition,
                fetchOffset: BigInt(from),
                partitionMaxBytes: maxBytes,
                currentLeaderEpoch: -1,
                lastFetchedEpoch: -1,
              },
            ],
          },
        ],
      });
    } catch (error) {
      if (kafkaErrorCode(error) === KafkaErrorCodes.OFFSET_OUT_OF_RANGE) {
        await this.refresh().catch(() => undefined);
        throw new RangeError(
          `offset ${from} is outside ${this.topic}[${this.partition}] (${this.logStart} to ${this.highWatermark})`,
        );
      }
      throw error;
    }
    const answer = response.responses[0]?.partitions.find((p) => p.partitionIndex === this.partition);
    if (answer === undefined)
      throw new Error(`Kafka fetch of ${this.topic}[${this.partition}]: no answer for it`);
    this.highWatermark = Number(answer.highWatermark);
    this.logStart = Number(answer.logStartOffset);
    const records: LogRecord[] = [];
    let next = from;
    for (const batch of answer.records ?? []) {
      const first = Number(batch.firstOffset);
      for (const record of batch.records) {
        const offset = first + record.offsetDelta;
        if (offset < from || offset >= this.highWatermark) continue;
        const origin = originOf(record.headers);
        records.push(
          origin === undefined
            ? { offset, payload: record.value ?? EMPTY }
            : { offset, payload: record.value ?? EMPTY, origin },
        );
      }
      const batchEnd = first + batch.lastOffsetDelta + 1;
      if (batchEnd <= this.highWatermark) next = Math.max(next, batchEnd);
    }
    if (records.length > 0) next = Math.max(next, records[records.length - 1]!.offset + 1);
    return { records, next };
  }

  private async locate(force: boolean): Promise<{ topicId: string; leader: number }> {
    if (!force && this.topicId !== undefined && this.leader !== undefined) {
      return { topicId: this.topicId, leader: this.leader };
    }
    const metadata = await this.consumer.metadata({ topics: [this.topic], forceUpdate: true });
    const topic = metadata.topics.get(this.topic);
    const described = topic?.partitions[this.partition];
    if (topic === undefined || described === undefined) {
      throw new RangeError(`Kafka topic ${this.topic} has no partition ${this.partition}`);
    }
    this.topicId = topic.id;
    this.leader = described.leader;
    return { topicId: topic.id, leader: described.leader };
  }
}

/** The origin a forwarded record carries in its header (kafka-event-appender.ts ORIGIN_HEADER). */
function originOf(headers: readonly [Buffer | null, Buffer | null][] | undefined): string | undefined {
  if (headers === undefined) return undefined;
  for (const [key, value] of headers) {
    if (key !== null && value !== null && key.toString() === ORIGIN_HEADER) return value.toString();
  }
  return undefined;
}
