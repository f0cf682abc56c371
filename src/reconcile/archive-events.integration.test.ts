import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { minuteOf } from '../aggregate/minute.js';
import { hourDir } from '../archive/archive-layout.js';
import { seededRandom } from '../domain/seeded-random.js';
import { expectedSelection, syntheticArchivedEvents, writeArchiveFixture } from './archive-fixture.js';
import { ARCHIVE_CHUNK_ROWS, archiveEvents } from './archive-events.js';
import { dedupContextMs, type RecomputedEvent } from './recompute.js';

const OPTIONS = { allowedLatenessMs: 5_000, clickTtlMs: 3_600_000 };
const START = Date.UTC(2026, 10, 24, 22, 30);

const dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'adtally-archive-events-'));
  dirs.push(dir);
  return dir;
};
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The fields archive-events gives, for comparison with the events written. */
const fields = (e: RecomputedEvent): string =>
  JSON.stringify([
    e.partition,
    e.offset,
    e.type,
    e.outcome,
    e.eventTime,
    e.receivedAt,
    e.tokenTs,
    e.ad,
    e.imp,
    e.origin ?? null,
  ]);

async function collect(
  chunks: AsyncIterable<RecomputedEvent[]>,
): Promise<{ rows: RecomputedEvent[]; largest: number }> {
  const rows: RecomputedEvent[] = [];
  let largest = 0;
  for await (const chunk of chunks) {
    largest = Math.max(largest, chunk.length);
    rows.push(...chunk);
  }
  return { rows, largest };
}

describe('archiveEvents', () => {
  it('streams the range, its dedup context and nothing else, cut per partition, in log order, in bounded chunks', async () => {
    const root = tempDir();
    // Three hours across midnight, two partitions: files in several dt=/hour= directories.
    const events = syntheticArchivedEvents({
      random: seededRandom(21),
      events: 30_000,
      startMs: START,
      stepMs: 360,
      ads: 20,
      partitions: 2,
      repeatRate: 0.3,
      lateRate: 0.03,
      copyRate: 0.02,
    });
    await writeArchiveFixture(root, events, { partitioned: true });
    // A stray temporary file of an archiver that crashed is never read.
    writeFileSync(
      join(
        hourDir(root, Date.UTC(2026, 10, 24, 23)),
        'part-0-00000000000000000000-00000000000000000009.parquet.tmp',
      ),
      'torn',
    );
    const count = (p: number): number => events.filter((e) => e.partition === p).length;
    const cuts = new Map([
      [0, count(0) - 500],
      [1, count(1)],
    ]);
    const from = minuteOf(Date.UTC(2026, 10, 24, 23, 0));
    const to = from + 60;
    const { rows, largest } = await collect(
      archiveEvents({
        root,
        cuts,
        fromMinute: from,
        toMinute: to,
        contextMs: dedupContextMs(OPTIONS),
        tempDir: tempDir(),
      }),
    );
    const expected = expectedSelection(events, OPTIONS, from, to, cuts);
    assert.ok(expected.length > ARCHIVE_CHUNK_ROWS, `several chunks (${expected.length} rows)`);
    assert.ok(largest <= ARCHIVE_CHUNK_ROWS, `chunks of at most ${ARCHIVE_CHUNK_ROWS} rows, got ${largest}`);
    assert.equal(rows.length, expected.length);
    assert.deepEqual(rows.map(fields), expected.map(fields));
  });

  it('reads nothing from an archive without files, or for no partition', async () => {
    const root = tempDir();
    const selection = {
      root,
      cuts: new Map([[0, 100]]),
      fromMinute: 0,
      toMinute: 60,
      contextMs: 0,
      tempDir: tempDir(),
    };
    assert.deepEqual((await collect(archiveEvents(selection))).rows, []);
    const events = syntheticArchivedEvents({
      random: seededRandom(3),
      events: 10,
      startMs: START,
      stepMs: 1000,
      ads: 2,
    });
    await writeArchiveFixture(root, events);
    const from = minuteOf(START);
    assert.deepEqual(
      (await collect(archiveEvents({ ...selection, cuts: new Map(), fromMinute: from, toMinute: from + 1 })))
        .rows,
      [],
    );
    assert.equal(
      (await collect(archiveEvents({ ...selection, fromMinute: from, toMinute: from + 1 }))).rows.length,
      10,
    );
  });
});
