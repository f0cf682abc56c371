import { Admin } from '@platformatic/kafka';
import { ConfigError } from '../../config/settings.js';
import { describeKafkaError, KafkaErrorCodes, kafkaErrorCode } from './kafka-errors.js';

const LEADER_WAIT_MS = 15_000;

/**
 * Makes sure `topic` exists with `partitions` partitions, each with a leader:
 * creates it when missing (several collectors may race to; the loser finds it
 * made), and refuses one with another partition count, since the partition of
 * an ad's events (domain/partitioning.ts) depends on the count.
 */
export async function ensureTopic(
  bootstrap: readonly string[],
  topic: string,
  partitions: number,
): Promise<void> {
  const admin = new Admin({
    clientId: 'adtally-topic',
    bootstrapBrokers: [...bootstrap],
    retries: 2,
    retryDelay: 250,
  });
  try {
    let count = await partitionCount(admin, topic, bootstrap);
    if (count === undefined) {
      try {
        await admin.createTopics({ topics: [topic], partitions, replicas: -1 });
      } catch (error) {
        if (kafkaErrorCode(error) !== KafkaErrorCodes.TOPIC_ALREADY_EXISTS) {
          throw new Error(
            `cannot create Kafka topic ${topic} at ${bootstrap.join(',')}: ${describeKafkaError(error)}`,
            {
              cause: error,
            },
          );
        }
      }
      count = await waitForLeaders(admin, topic);
    }
    if (count !== partitions) {
      throw new ConfigError(`Kafka topic ${topic} has ${count} partitions, the URL asks for ${partitions}`);
    }
  } finally {
    await admin.close();
  }
}

/** Partitions of `topic`, undefined when it does not exist. */
async function partitionCount(
  admin: Admin,
  topic: string,
  bootstrap: readonly string[],
): Promise<number | undefined> {
  try {
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
    return metadata.topics.get(topic)?.partitionsCount;
  } catch (error) {
    if (isUnknownTopic(error)) return undefined;
    throw new Error(`cannot reach Kafka at ${bootstrap.join(',')}: ${describeKafkaError(error)}`, {
      cause: error,
    });
  }
}

async function waitForLeaders(admin: Admin, topic: string): Promise<number> {
  const deadline = Date.now() + LEADER_WAIT_MS;
  for (;;) {
    try {
      const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
      const described = metadata.topics.get(topic);
      if (described && described.partitions.every((p) => p !== undefined && p.leader >= 0)) {
        return described.partitionsCount;
      }
    } catch (error) {
      if (!isUnknownTopic(error)) throw error;
    }
    if (Date.now() > deadline)
      throw new Error(`Kafka topic ${topic} has no leader for every partition after creation`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function isUnknownTopic(error: unknown): boolean {
  return (
    kafkaErrorCode(error) === KafkaErrorCodes.UNKNOWN_TOPIC_OR_PARTITION ||
    (error instanceof Error && error.message.startsWith('Unknown topic'))
  );
}
