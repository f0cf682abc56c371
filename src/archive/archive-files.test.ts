import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../../test/log/log-test-helpers.js';
import {
  deleteArchiveHoursBefore,
  isUncommitted,
  listArchiveHours,
  removeUncommitted,
} from './archive-files.js';
import { archiveFileName, archiveTmpName, hourDir } from './archive-layout.js';

const name = (partition: number | undefined, first: number, last: number): string =>
  archiveFileName({ partition, first, last });

void test('isUncommitted names the .tmp files and the uncommitted final files of one partition only', () => {
  const cases: [string, number | undefined, number, boolean][] = [
    [name(undefined, 0, 90), undefined, 100, false],
    [name(undefined, 100, 190), undefined, 100, true],
    [name(undefined, 150, 190), undefined, 100, true],
    [`${name(undefined, 0, 90)}.tmp`, undefined, 100, true],
    // Another partition's files are its archiver's business.
    [name(3, 100, 190), undefined, 100, false],
    [name(3, 100, 190), 3, 100, true],
    [name(3, 100, 190), 4, 100, false],
    [`${name(4, 0, 5)}.tmp`, 3, 100, false],
    [`${name(3, 0, 5)}.tmp`, 3, 100, true],
    // The name the writer uses: hidden, so Spark and pyarrow never list a file being written.
    [archiveTmpName(name(3, 0, 5)), 3, 100, true],
    [archiveTmpName(name(undefined, 0, 5)), 3, 100, false],
    // Not the archive's: never touched.
    ['notes.txt', undefined, 0, false],
    ['part-1-2.parquet.bak', undefined, 0, false],
  ];
  for (const [file, partition, committed, expected] of cases) {
    assert.equal(
      isUncommitted(file, partition, committed),
      expected,
      `${file} p=${partition} c=${committed}`,
    );
  }
});

void test('removeUncommitted deletes what no commit covers, in every hour, and keeps the rest', async () => {
  const { dir, remove } = makeTempDir('archive-files');
  try {
    const h1 = hourDir(dir, Date.UTC(2026, 10, 23, 9));
    const h2 = hourDir(dir, Date.UTC(2026, 10, 24, 0));
    mkdirSync(h1, { recursive: true });
    mkdirSync(h2, { recursive: true });
    for (const file of [
      name(undefined, 0, 50),
      name(undefined, 60, 99),
      `${name(undefined, 100, 120)}.tmp`,
    ]) {
      writeFileSync(join(h1, file), 'x');
    }
    for (const file of [name(undefined, 51, 59), name(undefined, 100, 140), 'README'])
      writeFileSync(join(h2, file), 'x');
    assert.equal(await removeUncommitted(dir, undefined, 100), 2);
    assert.deepEqual(readdirSync(h1).sort(), [name(undefined, 0, 50), name(undefined, 60, 99)]);
    assert.deepEqual(readdirSync(h2).sort(), ['README', name(undefined, 51, 59)]);
    assert.equal(await removeUncommitted(join(dir, 'absent'), undefined, 0), 0);
  } finally {
    remove();
  }
});

void test('deleteArchiveHoursBefore deletes whole hours before the horizon and says what it deleted', async () => {
  const { dir, remove } = makeTempDir('archive-retention');
  try {
    const hours = [
      Date.UTC(2026, 0, 1, 22),
      Date.UTC(2026, 0, 1, 23),
      Date.UTC(2026, 0, 2, 0),
      Date.UTC(2026, 0, 2, 1),
    ];
    for (const [i, hour] of hours.entries()) {
      mkdirSync(hourDir(dir, hour), { recursive: true });
      writeFileSync(join(hourDir(dir, hour), name(undefined, i * 10, i * 10 + 9)), Buffer.alloc(100 + i));
    }
    writeFileSync(join(hourDir(dir, hours[1]!), `${name(undefined, 99, 99)}.tmp`), Buffer.alloc(7));
    // A stranger's directory at the root is not an hour: kept.
    mkdirSync(join(dir, 'exports'));
    const deleted = await deleteArchiveHoursBefore(dir, hours[2]!);
    assert.deepEqual(deleted, { hours: 2, files: 3, bytes: 100 + 101 + 7 });
    assert.deepEqual(
      (await listArchiveHours(dir)).map((h) => h.hourMs),
      hours.slice(2),
    );
    assert.equal(existsSync(join(dir, 'dt=2026-01-01')), false, 'the emptied day goes too');
    assert.equal(existsSync(join(dir, 'exports')), true);
    assert.deepEqual(await deleteArchiveHoursBefore(dir, hours[2]!), { hours: 0, files: 0, bytes: 0 });
    assert.deepEqual(await deleteArchiveHoursBefore(join(dir, 'none'), Date.now()), {
      hours: 0,
      files: 0,
      bytes: 0,
    });
  } finally {
    remove();
  }
});
