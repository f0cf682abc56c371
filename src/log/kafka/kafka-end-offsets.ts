import { Consumer } from '@platformatic/kafka';
import { describeKafkaError } from './kafka-errors.js';

/**
 * The end offset of each partition of a topic: every record acknowledged to
 * a producer before the call is below it. What `consistent=true` waits for
 * in `adtally api` (the workers' checkpoints must reach these offsets).
 */
export class TopicEndOffsets {
  private constructor(
    private readonly consumer: Consumer,
    private readonly topic: string,
  ) {}

  static open(bootstrap: readonly string[], topic: string): TopicEndOffsets {
    const consumer = new Consumer({
      clientId: 'adtally-api',
      groupId: `adtally-api-offsets-${process.pid}`,
      bootstrapBrokers: [...bootstrap],
      retries: 1,
      retryDelay: 100,
    });
    return new TopicEndOffsets(consumer, topic);
  }

  /** End offsets by partition index. */
  async ends(): Promise<number[]> {
    try {
      const offsets = await this.consumer.listOffsets({ topics: [this.topic] });
      return (offsets.get(this.topic) ?? []).map((offset) => Number(offset));
    } catch (error) {
      throw new Error(`Kafka end offsets of ${this.topic}: ${describeKafkaError(error)}`, { cause: error });
    }
  }

  async close(): Promise<void> {
    await this.consumer.close();
  }
}
