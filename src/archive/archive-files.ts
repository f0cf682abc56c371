import { readdir, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDirectory } from '../log/file/segment-files.js';
import type { ArchiveDeletion } from '../retention/data-retention.js';
import { TMP_SUFFIX, parseArchiveFileName, parseHourDir } from './archive-layout.js';

/** The final name a file being written will have (archiveTmpName's inverse; also takes a bare `<name>.tmp`). */
function finalNameOfTmp(name: string): string {
  const bare = name.slice(0, -TMP_SUFFIX.length);
  return bare.startsWith('.') ? bare.slice(1) : bare;
}

/** One `dt=/hour=` directory of the archive. */
export interface ArchiveHour {
  readonly hourMs: number;
  readonly dir: string;
}

const list = async (dir: string): Promise<string[]> =>
  readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });

/** Every hour directory under `root`, oldest first; anything else there (a stranger's file) is left alone. */
export async function listArchiveHours(root: string): Promise<ArchiveHour[]> {
  const hours: ArchiveHour[] = [];
  for (const dt of await list(root)) {
    for (const hour of await list(join(root, dt))) {
      const hourMs = parseHourDir(dt, hour);
      if (hourMs !== undefined) hours.push({ hourMs, dir: join(root, dt, hour) });
    }
  }
  return hours.sort((a, b) => a.hourMs - b.hourMs);
}

/**
 * Whether a file of the archive's layout belongs to one partition's
 * uncommitted attempt: a `.tmp` of that partition, or a final file of that
 * partition whose first offset is at or past the committed position (its
 * rows were never committed, and a rerun writes them again).
 */
export function isUncommitted(name: string, partition: number | undefined, committed: number): boolean {
  const tmp = name.endsWith(TMP_SUFFIX);
  const parsed = parseArchiveFileName(tmp ? finalNameOfTmp(name) : name);
  if (parsed === undefined || parsed.partition !== partition) return false;
  return tmp || parsed.first >= committed;
}

/** Deletes the files of one hour directory that `isUncommitted` names; returns how many. */
export async function removeUncommittedIn(
  dir: string,
  partition: number | undefined,
  committed: number,
): Promise<number> {
  let removed = 0;
  for (const name of await list(dir)) {
    if (!isUncommitted(name, partition, committed)) continue;
    await rm(join(dir, name), { force: true });
    removed++;
  }
  if (removed > 0) await fsyncDirectory(dir);
  return removed;
}

/**
 * The archiver's recovery at start (and after a fault): deletes, in every
 * hour, the `.tmp` files of `partition` and its final files whose first
 * offset is >= `committed`. What is left is exactly the committed rows, so
 * reading the log again from `committed` duplicates nothing.
 */
export async function removeUncommitted(
  root: string,
  partition: number | undefined,
  committed: number,
): Promise<number> {
  let removed = 0;
  for (const { dir } of await listArchiveHours(root)) {
    removed += await removeUncommittedIn(dir, partition, committed);
  }
  return removed;
}

/**
 * Archive retention (SPEC 5, `--retention` of the raw archive): deletes
 * every hour directory whose hour starts before `hourMs` (so an hour goes
 * whole, once all of it is past the horizon), then `dt=` directories left
 * empty. Files of the layout (final and `.tmp`) are counted; the directory
 * goes with whatever else it holds. Returns what it deleted.
 */
export async function deleteArchiveHoursBefore(root: string, hourMs: number): Promise<ArchiveDeletion> {
  let hours = 0;
  let files = 0;
  let bytes = 0;
  const touchedDays = new Set<string>();
  for (const hour of await listArchiveHours(root)) {
    if (hour.hourMs >= hourMs) break;
    for (const name of await list(hour.dir)) {
      const path = join(hour.dir, name);
      const info = await stat(path).catch(() => undefined);
      if (info === undefined) continue;
      if (info.isFile()) {
        await unlink(path).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        });
        files++;
        bytes += info.size;
      } else {
        await rm(path, { recursive: true, force: true });
      }
    }
    await rmdir(hour.dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    hours++;
    touchedDays.add(join(hour.dir, '..'));
  }
  for (const day of touchedDays) {
    if ((await list(day)).length === 0) await rmdir(day).catch(() => undefined);
  }
  if (hours > 0) await fsyncDirectory(root).catch(() => undefined);
  return { hours, files, bytes };
}
