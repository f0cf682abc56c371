import type { TopicEndOffsets } from '../log/kafka/kafka-end-offsets.js';
import type { AggregateStore } from '../store/aggregate-store.js';

/**
 * Whether the workers have committed everything Kafka holds now: every
 * partition's checkpoint (`<topic>/<partition>`) at or past the end offset
 * the topic had when called. Polls for at most `waitMs`; false if it did not
 * happen by then. Used by `consistent=true` on the api (every acknowledged
 * event is below those ends) and by a collector lifting its spill hold (every
 * forwarded event is).
 */
export async function committedPast(
  endOffsets: TopicEndOffsets,
  store: AggregateStore,
  topic: string,
  waitMs: number,
): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  const ends = await endOffsets.ends();
  for (;;) {
    const committed = new Map(
      (await store.listCheckpoints(`${topic}/`)).map((row) => [row.consumer, row.checkpoint.offset]),
    );
    if (ends.every((end, partition) => end === 0 || (committed.get(`${topic}/${partition}`) ?? 0) >= end)) {
      return true;
    }
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
