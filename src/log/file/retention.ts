import { stat, unlink } from 'node:fs/promises';
import type { RetentionPolicy } from '../event-log.js';
import { fsyncDirectory } from './segment-files.js';

interface SealedFile {
  readonly base: number;
  readonly path: string;
  readonly size: number;
}

/** Checks a policy once, with the name of the bad field. */
export function retentionPolicyProblem(policy: RetentionPolicy): string | undefined {
  const { consumedBelow, now, maxAgeMs, maxBytes } = policy;
  if (!Number.isSafeInteger(consumedBelow) || consumedBelow < 0) {
    return `consumedBelow must be an offset (a non-negative integer), got ${consumedBelow}`;
  }
  if (!Number.isFinite(now)) return `now must be a time in ms, got ${now}`;
  if (!Number.isFinite(maxAgeMs) || maxAgeMs < 0) return `maxAgeMs must be >= 0, got ${maxAgeMs}`;
  if (maxBytes !== undefined && (!Number.isSafeInteger(maxBytes) || maxBytes <= 0)) {
    return `maxBytes must be a positive integer, got ${maxBytes}`;
  }
  return undefined;
}

/**
 * How many of `sealed` (oldest first) one retention pass deletes: a prefix,
 * so the log stays contiguous. A segment goes only if it is wholly below
 * `consumedBelow` (every consumer committed past its last byte) and either
 * its last record is older than `maxAgeMs` or the log is over `maxBytes`.
 * The first segment that is neither ends the prefix, as in Kafka.
 *
 * Age is the file's mtime: a sealed segment is never written again after
 * the flush that filled it, so its mtime is the time of its last record,
 * and it survives a restart (which an in-memory time would not). Something
 * that touches the files (a copy with preserved times is fine, `touch` is
 * not) delays their deletion; it never makes it early.
 */
export async function segmentsToDelete(
  sealed: readonly SealedFile[],
  logBytes: number,
  policy: RetentionPolicy,
): Promise<number> {
  let count = 0;
  let bytes = logBytes;
  for (const segment of sealed) {
    if (segment.base + segment.size > policy.consumedBelow) break; // a consumer still needs a byte of it
    const overCap = policy.maxBytes !== undefined && bytes > policy.maxBytes;
    if (!overCap) {
      const lastWrite = (await stat(segment.path)).mtimeMs;
      if (policy.now - lastWrite <= policy.maxAgeMs) break;
    }
    count++;
    bytes -= segment.size;
  }
  return count;
}

/**
 * Unlinks segment files oldest first, fsyncing the directory after each, so
 * that whatever a crash leaves deleted is a prefix of the log on any file
 * system (without the fsync only ext4's ordered journal would promise the
 * order); recovery opens such a log at its first remaining segment. A file
 * already gone counts as deleted. Returns how many of `files` are gone: on
 * an error the rest are left for the next pass, and the error is thrown
 * with that count in `deleted`.
 */
export async function unlinkSegments(dir: string, files: readonly SealedFile[]): Promise<number> {
  let deleted = 0;
  try {
    for (const file of files) {
      await unlink(file.path).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      });
      deleted++;
      await fsyncDirectory(dir);
    }
  } catch (error) {
    throw new SegmentUnlinkError(deleted, error);
  }
  return deleted;
}

/** Unlinking stopped after `deleted` files. */
export class SegmentUnlinkError extends Error {
  override readonly name = 'SegmentUnlinkError';
  constructor(
    readonly deleted: number,
    cause: unknown,
  ) {
    super(`deleting event log segments failed: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
}
