/**
 * Which consumer checkpoints reconciliation cuts at, and which archiver
 * position must cover each (design decision 1 and 2 of the batch layer):
 * `serve` aggregates the file log as `serve` (partition 0) and archives it as
 * `archive`; workers aggregate partition p of a topic as `<topic>/<p>` and
 * archive it as `archive/<topic>/<p>` (never under `<topic>/`).
 */
export interface ReconcileConsumers {
  /** Every aggregation consumer's name starts with this (and no other consumer's does). */
  readonly consumerPrefix: string;
  /** The log partition an aggregation consumer reads; undefined for any other name. */
  readonly partitionOf: (consumer: string) => number | undefined;
  /** The archiver's checkpoint of a partition. */
  readonly archiveConsumerOf: (partition: number) => string;
}

export function serveConsumers(aggregation = 'serve', archive = 'archive'): ReconcileConsumers {
  return {
    consumerPrefix: aggregation,
    partitionOf: (consumer) => (consumer === aggregation ? 0 : undefined),
    archiveConsumerOf: () => archive,
  };
}

export function topicConsumers(topic: string): ReconcileConsumers {
  return {
    consumerPrefix: `${topic}/`,
    partitionOf: (consumer) => {
      const partition = consumer.slice(topic.length + 1);
      return consumer.startsWith(`${topic}/`) && /^\d{1,9}$/.test(partition) ? Number(partition) : undefined;
    },
    archiveConsumerOf: (partition) => `archive/${topic}/${partition}`,
  };
}
