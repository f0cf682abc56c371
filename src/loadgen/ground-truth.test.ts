import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COUNT_FIELDS, emptyCounts, type BucketCounts } from '../aggregate/counts.js';
import { MINUTE_MS } from '../aggregate/minute.js';
import { GroundTruth, fieldOf, type ObservedCounts } from './ground-truth.js';

const M0 = 29_000_000 * MINUTE_MS; // a minute boundary
const at = (minuteOffset: number, ms = 0): number => M0 + minuteOffset * MINUTE_MS + ms;

function observed(entries: [number, Partial<BucketCounts>][]): ObservedCounts {
  return new Map(entries.map(([ms, counts]) => [ms, { ...emptyCounts(), ...counts }]));
}

describe('GroundTruth', () => {
  it('accepts exactly the counts of events inside one minute, and names a wrong one', () => {
    const truth = new GroundTruth();
    truth.record(7, 'clicks', at(0, 1_000), at(0, 1_003));
    truth.record(7, 'clicks', at(0, 2_000), at(0, 2_004));
    truth.record(7, 'clickBot', at(1, 5), at(1, 9));
    assert.deepEqual(
      truth.check(
        7,
        observed([
          [at(0), { clicks: 2 }],
          [at(1), { clickBot: 1 }],
        ]),
      ),
      [],
    );
    const wrong = truth.check(
      7,
      observed([
        [at(0), { clicks: 3 }],
        [at(1), { clickBot: 1 }],
      ]),
    );
    assert.equal(wrong.length, 1);
    assert.deepEqual(wrong[0], {
      ad: 7,
      field: 'clicks',
      minute: at(0),
      fromMinute: at(0),
      expected: { min: 2, max: 2 },
      observed: 3,
    });
  });

  it('accepts any split of events in flight across a boundary, and nothing else', () => {
    const truth = new GroundTruth();
    truth.record(1, 'impressions', at(0, 10), at(0, 20));
    truth.record(1, 'impressions', at(0, 59_999), at(1, 2)); // straddles 0|1
    truth.record(1, 'impressions', at(0, 59_998), at(1, 3)); // straddles 0|1
    truth.record(1, 'impressions', at(1, 100), at(1, 104));
    for (const left of [0, 1, 2]) {
      const split = observed([
        [at(0), { impressions: 1 + left }],
        [at(1), { impressions: 1 + 2 - left }],
      ]);
      assert.deepEqual(truth.check(1, split), [], `split ${left}`);
    }
    const shifted = truth.check(
      1,
      observed([
        [at(0), { impressions: 4 }],
        [at(1), { impressions: 0 }],
      ]),
    );
    assert.deepEqual(
      shifted.map((m) => m.minute),
      [at(0), at(1)],
    );
    assert.deepEqual(shifted[0]!.expected, { min: 1, max: 3 });
    // One extra count absorbed by the straddle at minute 0 still shows up by minute 1.
    const extra = truth.check(
      1,
      observed([
        [at(0), { impressions: 2 }],
        [at(1), { impressions: 3 }],
      ]),
    );
    assert.equal(extra.length, 1);
    assert.equal(extra[0]!.minute, at(1));
    assert.equal(extra[0]!.fromMinute, at(0));
  });

  it('checks every counter, including ones that should be zero, and declared ads without traffic', () => {
    const truth = new GroundTruth();
    truth.record(1, 'clicks', at(0, 1), at(0, 2));
    truth.declareAd(2);
    assert.deepEqual(truth.adIds(), [1, 2]);
    for (const field of COUNT_FIELDS) {
      const counts = field === 'clicks' ? { clicks: 1 } : { clicks: 1, [field]: 1 };
      const found = truth.check(1, observed([[at(0), counts]]));
      assert.equal(found.length, field === 'clicks' ? 0 : 1, field);
    }
    const onIdle = truth.check(2, observed([[at(0), { clickExpired: 1 }]]));
    assert.equal(onIdle.length, 1);
    assert.equal(onIdle[0]!.field, 'clickExpired');
  });

  it('keeps requests longer than a minute apart as unattributable', () => {
    const truth = new GroundTruth();
    truth.record(1, 'clicks', at(0, 0), at(2, 0));
    assert.equal(truth.unattributableCount, 1);
    assert.equal(truth.eventCount, 0);
  });

  it('survives a round trip through JSON', () => {
    const truth = new GroundTruth();
    truth.record(3, 'clicks', at(0, 59_999), at(1, 1));
    truth.record(3, 'impressionDuplicate', at(1, 5), at(1, 5));
    truth.declareAd(4);
    const copy = GroundTruth.fromJSON(JSON.parse(JSON.stringify(truth.toJSON())));
    assert.deepEqual(copy.adIds(), [3, 4]);
    assert.deepEqual(copy.window(), truth.window());
    assert.equal(copy.eventCount, 2);
    assert.deepEqual(copy.check(3, observed([[at(1), { clicks: 1, impressionDuplicate: 1 }]])), []);
    assert.equal(copy.check(3, observed([[at(1), { clicks: 1 }]])).length, 1);
  });

  it('maps type and expectation to the store counter', () => {
    assert.equal(fieldOf('click', 'billable'), 'clicks');
    assert.equal(fieldOf('impression', 'bad_signature'), 'impressionBadSignature');
    assert.equal(fieldOf('click', 'duplicate'), 'clickDuplicate');
  });

  it('lets an event of unknown fate count once or not at all, never twice', () => {
    const truth = new GroundTruth();
    truth.record(3, 'clicks', at(0, 1_000), at(0, 1_002));
    truth.recordMaybe(3, 'clicks', at(0, 5_000), at(0, 5_500));
    truth.recordMaybe(3, 'clicks', at(0, 59_990), at(1, 20));
    assert.equal(truth.maybeCount, 2);
    for (const [m0, m1] of [
      [1, 0],
      [2, 0],
      [3, 0],
      [2, 1],
    ] as const) {
      assert.deepEqual(
        truth.check(
          3,
          observed([
            [at(0), { clicks: m0 }],
            [at(1), { clicks: m1 }],
          ]),
        ),
        [],
        `${m0} + ${m1} is allowed`,
      );
    }
    // The sure click is missing: not excused by the unknown ones.
    assert.equal(truth.check(3, observed([[at(0), { clicks: 0 }]])).length, 1);
    // Four counted from three events: one of them twice.
    assert.ok(
      truth.check(
        3,
        observed([
          [at(0), { clicks: 3 }],
          [at(1), { clicks: 1 }],
        ]),
      ).length > 0,
    );
    // The unknown ones survive a save and a load.
    const loaded = GroundTruth.fromJSON(JSON.parse(JSON.stringify(truth.toJSON())));
    assert.equal(loaded.maybeCount, 2);
    assert.deepEqual(loaded.check(3, observed([[at(0), { clicks: 3 }]])), []);
  });
});
