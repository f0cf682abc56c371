import { Admin } from '@platformatic/kafka';
import { testKafkaBootstrap, uniqueTopic } from '../../../test/support/kafka-env.js';
import { eventLogContract } from '../event-log.contract.js';
import { openKafkaEventAppender } from './kafka-event-appender.js';
import { openKafkaPartitionReader } from './kafka-partition-reader.js';

// Against the shared test broker (ADTALLY_TEST_KAFKA), a topic of 3 partitions per test.
eventLogContract('kafka log', () => {
  const bootstrap = [testKafkaBootstrap()];
  const topic = uniqueTopic('contract');
  return Promise.resolve({
    open: () => openKafkaEventAppender({ bootstrap, topic, partitions: 3 }),
    openReader: (partition) => openKafkaPartitionReader({ bootstrap, topic, partition }),
    async cleanup() {
      const admin = new Admin({ clientId: 'adtally-test', bootstrapBrokers: bootstrap });
      try {
        await admin.deleteTopics({ topics: [topic] });
      } finally {
        await admin.close();
      }
    },
  });
});
