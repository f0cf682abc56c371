import { randomUUID } from 'node:crypto';

/**
 * The shared test broker's bootstrap (127.0.0.1:PORT): scripts/run-tests.mjs
 * starts one with scripts/services/kafka.sh and passes it as ADTALLY_TEST_KAFKA.
 */
export function testKafkaBootstrap(): string {
  const bootstrap = process.env['ADTALLY_TEST_KAFKA'];
  if (bootstrap === undefined || bootstrap === '') {
    throw new Error(
      'ADTALLY_TEST_KAFKA is not set: run the tests with `node scripts/run-tests.mjs` (it starts a broker), ' +
        'or start one with `scripts/services/kafka.sh start` and set ADTALLY_TEST_KAFKA=<its bootstrap>',
    );
  }
  return bootstrap;
}

/** A topic (or group) name no other test uses. */
export function uniqueTopic(prefix = 'test'): string {
  return `${prefix}-${randomUUID().slice(0, 12)}`;
}
