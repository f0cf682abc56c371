import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COUNT_FIELDS, emptyCounts } from '../aggregate/counts.js';
import { MINUTE_MS } from '../aggregate/minute.js';
import { seededRandom } from '../domain/seeded-random.js';
import { BUCKET_MINUTES, buildSeries, rangeBounds, type Granularity, type SeriesRange } from './series.js';
import { seriesJson, type SeriesHead } from './series-json.js';

const M0 = 29_924_040; // 2026-11-23T10:00Z, minutes since the epoch

function headOf(
  range: SeriesRange,
  subject: Record<string, number>,
  watermark: number | undefined,
): SeriesHead {
  return {
    ...subject,
    granularity: range.granularity,
    ...rangeBounds(range),
    watermark: watermark === undefined ? null : new Date(watermark).toISOString(),
  };
}

/** What the route sent before series-json existed: the reference text. */
function reference(
  range: SeriesRange,
  rows: Parameters<typeof buildSeries>[1],
  watermark: number | undefined,
  subject: Record<string, number>,
  late: number,
) {
  return JSON.stringify({
    ...headOf(range, subject, watermark),
    ...buildSeries(range, rows, watermark, late),
  });
}

describe('seriesJson', () => {
  it('writes exactly the text of JSON.stringify over buildSeries', () => {
    const random = seededRandom(9);
    for (let round = 0; round < 60; round++) {
      const granularity = (['minute', 'hour', 'day'] as Granularity[])[round % 3]!;
      const bucket = BUCKET_MINUTES[granularity];
      const fromMinute = Math.floor((M0 - Math.floor(random() * 3000)) / bucket) * bucket;
      const toMinute = fromMinute + bucket * (1 + Math.floor((random() * 1500) / bucket + 1));
      const range: SeriesRange = { granularity, fromMinute, toMinute };
      const rows = [];
      for (let minute = fromMinute; minute < toMinute; minute += bucket) {
        if (random() < 0.3) continue; // buckets with no row are zeros
        const counts = emptyCounts();
        for (const f of COUNT_FIELDS)
          if (random() < 0.4) counts[f] = Math.floor(random() * (random() < 0.05 ? 2 ** 40 : 1000));
        rows.push({ minute, counts });
      }
      const watermark =
        random() < 0.2
          ? undefined
          : (fromMinute + Math.floor(random() * (toMinute - fromMinute))) * MINUTE_MS + 17;
      const subject: Record<string, number> = round % 2 === 0 ? { ad: 1 + round } : { campaign: round };
      const late = round % 4 === 0 ? 0 : Math.floor(random() * 50);
      const answer = seriesJson(headOf(range, subject, watermark), range, rows, watermark, late);
      assert.equal(
        answer.body.toString('utf8'),
        reference(range, rows, watermark, subject, late),
        `round ${round}`,
      );
      answer.release();
    }
  });

  it('leaves an answer intact until it is released, then reuses its buffer', () => {
    const range: SeriesRange = { granularity: 'minute', fromMinute: M0, toMinute: M0 + 1440 };
    const one = [{ minute: M0, counts: { ...emptyCounts(), clicks: 1 } }];
    const two = [{ minute: M0, counts: { ...emptyCounts(), clicks: 2 } }];
    const first = seriesJson(headOf(range, { ad: 1 }, undefined), range, one, undefined);
    const text = first.body.toString();
    const second = seriesJson(headOf(range, { ad: 1 }, undefined), range, two, undefined);
    assert.equal(first.body.toString(), text, 'the second answer took another buffer');
    assert.notEqual(second.body.buffer, first.body.buffer);
    first.release();
    second.release();
    const third = seriesJson(headOf(range, { ad: 1 }, undefined), range, one, undefined);
    assert.equal(third.body.toString(), text);
    third.release();
  });
});
