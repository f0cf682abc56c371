import { Consumer } from '@platformatic/kafka';
import type { LogReader } from '../event-log.js';
import { DEFAULT_FETCH_WAIT_MS, PartitionFetcher } from './partition-fetcher.js';

export interface KafkaPartitionReaderOptions {
  readonly bootstrap: readonly string[];
  readonly topic: string;
  readonly partition: number;
  readonly clientId?: string;
  /** How long a read with nothing to return waits at the broker; default 100 ms. */
  readonly fetchWaitMs?: number;
}

export interface KafkaPartitionReader extends LogReader {
  close(): Promise<void>;
}

/**
 * Reads one partition of the Kafka event log from any offset, outside any
 * consumer group (tests, tools, the contract suite); workers read through
 * their group's leases (kafka-group-consumer.ts).
 */
export async function openKafkaPartitionReader(
  options: KafkaPartitionReaderOptions,
): Promise<KafkaPartitionReader> {
  // A Consumer that never joins its group: only its Fetch, ListOffsets and Metadata requests are used.
  const consumer = new Consumer({
    clientId: options.clientId ?? 'adtally-reader',
    groupId: `adtally-reader-unjoined`,
    bootstrapBrokers: [...options.bootstrap],
    retries: 3,
    retryDelay: 250,
  });
  const fetcher = new PartitionFetcher(
    consumer,
    options.topic,
    options.partition,
    options.fetchWaitMs ?? DEFAULT_FETCH_WAIT_MS,
  );
  try {
    await fetcher.refresh();
  } catch (error) {
    await consumer.close().catch(() => undefined);
    throw error;
  }
  return {
    durableEnd: () => fetcher.durableEnd(),
    startOffset: () => fetcher.startOffset(),
    read: (from, maxBytes) => fetcher.read(from, maxBytes),
    close: () => consumer.close(),
  };
}
