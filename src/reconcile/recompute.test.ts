import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addCounts, emptyCounts } from '../aggregate/counts.js';
import { minuteOf } from '../aggregate/minute.js';
import type { ArchivedEvent } from '../archive/archive-schema.js';
import { seededRandom } from '../domain/seeded-random.js';
import type { MinuteDelta } from '../store/aggregate-store.js';
import { expectedSelection, inMinutes, streamCounts, syntheticArchivedEvents } from './archive-fixture.js';
import { recompute } from './recompute.js';

const OPTIONS = { allowedLatenessMs: 5_000, clickTtlMs: 3_600_000 };
const START = Date.UTC(2026, 10, 24, 10, 0);

function chunked<T>(rows: readonly T[], size = 97): AsyncIterable<readonly T[]> {
  const chunks: T[][] = [];
  for (let i = 0; i < rows.length; i += size) chunks.push(rows.slice(i, i + size));
  return (async function* () {
    for (const chunk of chunks) yield await Promise.resolve(chunk);
  })();
}

const byLog = (a: ArchivedEvent, b: ArchivedEvent): number =>
  a.partition - b.partition || a.offset - b.offset;

/** The stream's serving counts plus what it set apart as late: what the archive must recompute. */
function servingPlusLate(
  events: readonly ArchivedEvent[],
  from: number,
  to: number,
): Map<string, MinuteDelta> {
  const { serving, late } = streamCounts(events, OPTIONS);
  const sum = new Map<string, MinuteDelta>();
  for (const d of [...serving.values(), ...late.values()]) {
    const key = `${d.ad}:${d.minute}`;
    const known =
      sum.get(key) ?? sum.set(key, { ad: d.ad, minute: d.minute, counts: emptyCounts() }).get(key)!;
    addCounts(known.counts, d.counts);
  }
  return inMinutes(sum, from, to);
}

const sorted = (m: Map<unknown, MinuteDelta>): MinuteDelta[] =>
  [...m.values()].sort((a, b) => a.ad - b.ad || a.minute - b.minute);

describe('recompute', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`agrees with the stream (serving + late) on the same events, seed ${seed}`, async () => {
      const events = syntheticArchivedEvents({
        random: seededRandom(seed),
        events: 6_000,
        startMs: START,
        stepMs: 1_000,
        ads: 12,
        partitions: seed % 2 === 0 ? 3 : 1,
        repeatRate: 0.3,
        invalidRate: 0.15,
        lateRate: 0.05,
        copyRate: 0.03,
      });
      // A range that starts inside the data: impressions first seen before it repeat inside it.
      const from = minuteOf(START) + 30;
      const to = from + 40;
      const expected = servingPlusLate(events, from, to);
      const { late } = streamCounts(events, OPTIONS);
      assert.ok([...inMinutes(late, from, to).values()].length > 0, 'some late events of final minutes');
      const all = await recompute(chunked([...events].sort(byLog)), {
        ...OPTIONS,
        fromMinute: from,
        toMinute: to,
      });
      assert.deepEqual(sorted(all), sorted(expected));
      const fromSelection = await recompute(chunked(expectedSelection(events, OPTIONS, from, to)), {
        ...OPTIONS,
        fromMinute: from,
        toMinute: to,
      });
      assert.deepEqual(sorted(fromSelection), sorted(expected));
    });
  }

  it('counts the first valid event before the range as the first: the repeat inside it is a duplicate', async () => {
    const base = syntheticArchivedEvents({
      random: seededRandom(9),
      events: 1,
      startMs: START,
      stepMs: 1,
      ads: 1,
    })[0]!;
    const first: ArchivedEvent = {
      ...base,
      type: 'click',
      outcome: 'ok',
      eventTime: START,
      receivedAt: START,
      offset: 0,
    };
    const repeat: ArchivedEvent = {
      ...first,
      eventTime: START + 120_000,
      receivedAt: START + 120_000,
      offset: 1,
    };
    const bot: ArchivedEvent = {
      ...first,
      outcome: 'bot',
      eventTime: START + 121_000,
      receivedAt: START + 121_000,
      offset: 2,
    };
    const from = minuteOf(START) + 1;
    const counts = await recompute(chunked([first, repeat, bot]), {
      ...OPTIONS,
      fromMinute: from,
      toMinute: from + 5,
    });
    assert.deepEqual(sorted(counts), [
      { ad: first.ad, minute: from + 1, counts: { ...emptyCounts(), clickDuplicate: 1, clickBot: 1 } },
    ]);
  });

  it('counts a log record archived twice (same partition and offset) once', async () => {
    const base = syntheticArchivedEvents({
      random: seededRandom(5),
      events: 1,
      startMs: START,
      stepMs: 1,
      ads: 1,
    })[0]!;
    const click: ArchivedEvent = { ...base, type: 'click', outcome: 'ok', offset: 7 };
    const bot: ArchivedEvent = { ...click, outcome: 'bot', offset: 8 };
    const minute = minuteOf(click.eventTime);
    const counts = await recompute(chunked([click, click, bot, bot], 1), {
      ...OPTIONS,
      fromMinute: minute,
      toMinute: minute + 1,
    });
    assert.deepEqual(sorted(counts), [
      { ad: click.ad, minute, counts: { ...emptyCounts(), clicks: 1, clickBot: 1 } },
    ]);
  });

  it('skips a second forwarded copy of one record entirely', async () => {
    const base = syntheticArchivedEvents({
      random: seededRandom(4),
      events: 1,
      startMs: START,
      stepMs: 1,
      ads: 1,
    })[0]!;
    const original: ArchivedEvent = { ...base, type: 'impression', outcome: 'ok', origin: 'c1/7', offset: 0 };
    const copy: ArchivedEvent = { ...original, offset: 1 };
    const other: ArchivedEvent = { ...original, origin: 'c1/8', offset: 2 };
    const minute = minuteOf(original.eventTime);
    const counts = await recompute(chunked([original, copy, other]), {
      ...OPTIONS,
      fromMinute: minute,
      toMinute: minute + 1,
    });
    assert.deepEqual(sorted(counts), [
      { ad: original.ad, minute, counts: { ...emptyCounts(), impressions: 1, impressionDuplicate: 1 } },
    ]);
  });
});
