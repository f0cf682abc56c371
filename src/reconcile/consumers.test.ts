import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serveConsumers, topicConsumers } from './consumers.js';

describe('reconcile consumers', () => {
  it('maps serve to partition 0 and its archiver', () => {
    const c = serveConsumers();
    assert.deepEqual(
      [c.partitionOf('serve'), c.partitionOf('archive'), c.archiveConsumerOf(0)],
      [0, undefined, 'archive'],
    );
  });

  it('maps <topic>/<p> to p, and nothing else, and archive/<topic>/<p> to its archiver', () => {
    const c = topicConsumers('events');
    assert.equal(c.consumerPrefix, 'events/');
    assert.deepEqual(
      ['events/0', 'events/12', 'events/x', 'events/', 'archive/events/0', 'eventsX/1'].map(c.partitionOf),
      [0, 12, undefined, undefined, undefined, undefined],
    );
    assert.equal(c.archiveConsumerOf(3), 'archive/events/3');
  });
});
