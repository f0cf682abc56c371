import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventLog, LogFlushObserver, LogReader } from './event-log.js';
import { DurableEndCell } from './file/durable-end-cell.js';
import { openFileEventLog, type FileEventLogOptions } from './file/file-event-log.js';
import { FileLogFollower } from './file/file-log-follower.js';

/** The event log URL names a backend this build does not have. */
export class UnsupportedBackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedBackendError';
  }
}

export type OpenEventLogOptions = Omit<FileEventLogOptions, 'io'>;

/** Where a log URL points; one variant per backend. */
export type EventLogLocation = { readonly backend: 'file'; readonly dir: string };

/**
 * Parses an event log URL. `file:<dir>` takes a path as written, relative to
 * the working directory (`file:./data/log`, `file:/abs/path`); `file://` is a
 * standard file URL (`file:///abs/path`, percent-decoded).
 */
export function parseEventLogUrl(url: string): EventLogLocation {
  if (!url.startsWith('file:')) {
    throw new UnsupportedBackendError(
      `unsupported event log URL "${url}": expected file:<dir> (kafka:// comes later)`,
    );
  }
  let path: string;
  if (url.startsWith('file://')) {
    try {
      path = fileURLToPath(url);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`invalid event log URL "${url}": ${reason} (use file:///abs/path or file:./relative)`);
    }
  } else {
    path = url.slice('file:'.length);
  }
  if (path === '') throw new Error(`invalid event log URL "${url}": the directory is empty`);
  return { backend: 'file', dir: resolve(path) };
}

/** Opens the event log a URL names; only `file:` exists for now. */
export async function openEventLog(url: string, options: OpenEventLogOptions = {}): Promise<EventLog> {
  const location = parseEventLogUrl(url);
  return openFileEventLog(location.dir, options);
}

/**
 * What another thread of this process needs to read the log as it grows: a
 * plain value, so it can be posted to a worker thread. For the file log, its
 * directory and the shared cell holding its durable end.
 */
export type LogFollowSpec = {
  readonly backend: 'file';
  readonly dir: string;
  readonly durableEnd: SharedArrayBuffer;
};

/** A log reader that follows a log another thread writes; `close` releases its files. */
export interface LogFollower extends LogReader {
  close(): Promise<void>;
}

/**
 * Opens the log a URL names for appending, with what another thread needs to
 * follow it (`openLogFollower`): `adtally serve` appends on its request
 * thread and aggregates on its own thread.
 */
export async function openFollowedEventLog(
  url: string,
  options: OpenEventLogOptions = {},
): Promise<{ log: EventLog; follow: LogFollowSpec }> {
  const location = parseEventLogUrl(url);
  const cell = new DurableEndCell();
  const inner = options.observer;
  let publish = (): void => undefined;
  const observer: LogFlushObserver = {
    onFlush(flush) {
      publish();
      inner?.onFlush(flush);
    },
  };
  // The follower reads the segment files: copies of the last flushes for tail reads would be
  // made on the appending thread for no reader.
  const log = await openFileEventLog(location.dir, { ...options, observer, recentBytes: 0 });
  publish = () => cell.publish(log.durableEnd(), log.activeSegmentBase());
  publish();
  return { log, follow: { backend: 'file', dir: location.dir, durableEnd: cell.buffer } };
}

/** Opens a reader of the log `spec` describes, on the thread that calls it. */
export function openLogFollower(spec: LogFollowSpec): Promise<LogFollower> {
  return FileLogFollower.open(spec.dir, new DurableEndCell(spec.durableEnd));
}
